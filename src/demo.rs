//! `stemkaart demo`: a workshop tour of four municipalities on this machine, no Discord account
//! needed. It starts the in-repo Discord-compatible server on 127.0.0.1, runs the real bot
//! binary against it with a fresh database in a temporary folder, plays the tour with simulated
//! participants (each municipality its own crowd size and leanings, changes of mind,
//! withdrawals, stray emoji, a room count per statement), checks every result against its own
//! count, and writes the charts and the CSV — all marked as simulated.

use crate::domain::Language;
use crate::reports::{self, Written};
use crate::sim::{perms, Sim, SimConfig, SimUser};
use anyhow::{bail, Context};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One municipality of the tour.
struct Stop {
    municipality: &'static str,
    label: &'static str,
    online: usize,
    room: u32,
    /// Chance to agree, per statement.
    leaning: [f64; 3],
}

const TOUR: [Stop; 4] = [
    Stop {
        municipality: "Arnhem",
        label: "Raadsavond 3 november",
        online: 42,
        room: 18,
        leaning: [0.74, 0.38, 0.61],
    },
    Stop {
        municipality: "Eindhoven",
        label: "Wijkavond Woensel",
        online: 67,
        room: 9,
        leaning: [0.57, 0.52, 0.44],
    },
    Stop {
        municipality: "Súdwest Fryslân",
        label: "Dorpsavond Bolsward",
        online: 23,
        room: 31,
        leaning: [0.82, 0.27, 0.76],
    },
    Stop {
        municipality: "Heerlen",
        label: "Raadsavond 27 november",
        online: 38,
        room: 15,
        leaning: [0.66, 0.21, 0.85],
    },
];

/// A small deterministic random source (xorshift64*), so every demo run plays the same tour.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a participant does on one statement: a sequence of reactions.
#[derive(Clone, Copy, Debug)]
enum Step {
    Add(&'static str),
    Remove(&'static str),
}

const GREEN: &str = "🟩";
const RED: &str = "🟥";

fn plan(dice: &mut Dice, agree_chance: f64) -> Vec<Step> {
    if dice.chance(0.08) {
        return Vec::new(); // listens, does not vote
    }
    let first = if dice.chance(agree_chance) {
        GREEN
    } else {
        RED
    };
    let other = if first == GREEN { RED } else { GREEN };
    let mut steps = Vec::new();
    if dice.chance(0.05) {
        steps.push(Step::Add("👍"));
    }
    steps.push(Step::Add(first));
    if dice.chance(0.12) {
        steps.push(Step::Add(other)); // a change of mind
    } else if dice.chance(0.05) {
        steps.push(Step::Remove(first)); // takes the vote back
    }
    steps
}

/// What the participants have on one message, to know the right result: the most recently
/// added colour still there counts.
#[derive(Default)]
struct Expect {
    clock: u64,
    present: BTreeMap<(u64, &'static str), u64>,
}

impl Expect {
    fn apply(&mut self, user: u64, step: Step) {
        self.clock += 1;
        match step {
            Step::Add(emoji) => {
                self.present.entry((user, emoji)).or_insert(self.clock);
            }
            Step::Remove(emoji) => {
                self.present.remove(&(user, emoji));
            }
        }
    }

    fn result(&self) -> (u32, u32) {
        let mut latest: BTreeMap<u64, (u64, &str)> = BTreeMap::new();
        for ((user, emoji), at) in &self.present {
            if *emoji != GREEN && *emoji != RED {
                continue;
            }
            let entry = latest.entry(*user).or_insert((*at, emoji));
            if *at > entry.0 {
                *entry = (*at, emoji);
            }
        }
        let agree = latest.values().filter(|(_, e)| *e == GREEN).count() as u32;
        (agree, latest.len() as u32 - agree)
    }
}

/// The bot as a child process, its log kept for when something goes wrong.
struct BotProcess {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl BotProcess {
    fn log_text(&self) -> String {
        self.log.lock().expect("log").join("\n")
    }

    fn stop(mut self) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
        }
        #[cfg(not(unix))]
        {
            let _ = self.child.kill();
        }
        let status = self.child.wait()?;
        if !status.success() && cfg!(unix) {
            bail!("the bot ended with {status}:\n{}", self.log_text());
        }
        Ok(())
    }
}

impl Drop for BotProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub struct Options {
    pub out: PathBuf,
    pub statements: PathBuf,
}

/// Play the tour; returns the files written.
pub async fn run(options: Options) -> anyhow::Result<Vec<Written>> {
    let started = Instant::now();
    let say = |text: String| {
        println!("{text}");
        let _ = std::io::stdout().flush();
    };
    say(
        "stemkaart demo — een gesimuleerde workshoptour langs vier gemeenten (simulated data)"
            .into(),
    );
    let decks = crate::decks::load_folder(&options.statements)?;
    let deck = decks
        .get("vertrouwen")
        .context("the demo plays the shipped deck `vertrouwen`, which is missing from the statements folder")?
        .clone();
    let work = tempfile::tempdir().context("cannot create a temporary folder")?;
    let db = work.path().join("demo.db");

    let sim = Sim::start_with(SimConfig::default()).await?;
    say(format!("· Discord-compatible server on {}", sim.base_url()));
    let bot = start_bot(&sim, &db, &options.statements)?;
    wait_until(&bot, Duration::from_secs(60), || {
        sim.ready_count() >= 1 && !sim.commands().is_empty()
    })
    .await
    .context("the bot did not connect")?;
    say(format!(
        "· bot running (process {}), slash commands registered",
        bot.child.id()
    ));

    let facilitator = sim
        .user("gespreksleider")
        .permissions(perms::MEMBER_DEFAULT | perms::MANAGE_GUILD);
    let mut dice = Dice(0x5EED_CAFE_F00D_u64);
    let mut checked = 0;
    for stop in &TOUR {
        let channel = sim.new_channel(&format!("workshop-{}", reports::slug(stop.municipality)));
        let label = format!("{} (gesimuleerd)", stop.label);
        command(
            &sim,
            &bot,
            channel,
            &facilitator,
            "session start",
            json!({"municipality": stop.municipality, "deck": deck.id, "label": label}),
        )
        .await?;
        say(format!(
            "\n{} — {}: {} deelnemers online, {} in de zaal",
            stop.municipality, label, stop.online, stop.room
        ));
        let people: Vec<SimUser> = (0..stop.online)
            .map(|i| sim.user(&format!("{}-{}", reports::slug(stop.municipality), i + 1)))
            .collect();
        for (index, _) in deck.statements.iter().enumerate() {
            command(
                &sim,
                &bot,
                channel,
                &facilitator,
                "statement next",
                json!({}),
            )
            .await?;
            let message = sim
                .messages(channel)
                .into_iter()
                .rev()
                .find(|m| {
                    m.author_id == sim.bot_user_id()
                        && m.content.contains(&format!("{}/", index + 1))
                })
                .context("the bot did not post the statement")?;
            // Everyone's reactions, interleaved as they would come in.
            let mut queue: Vec<(usize, Step)> = Vec::new();
            for (who, _) in people.iter().enumerate() {
                let lean = (stop.leaning[index] + (dice.unit() - 0.5) * 0.2).clamp(0.0, 1.0);
                let steps = plan(&mut dice, lean);
                let mut at = dice.below(queue.len() + 1);
                for step in steps {
                    queue.insert(at.min(queue.len()), (who, step));
                    at = at + 1 + dice.below(4);
                }
            }
            let mut expect = Expect::default();
            for (who, step) in &queue {
                let person = &people[*who];
                match step {
                    Step::Add(emoji) => sim.react(channel, message.id, person, emoji).await?,
                    Step::Remove(emoji) => sim.unreact(channel, message.id, person, emoji).await?,
                }
                expect.apply(person.id, *step);
            }
            let lean = stop.leaning[index];
            let room_agree = ((f64::from(stop.room) * lean) + (dice.unit() - 0.5) * 3.0)
                .round()
                .clamp(0.0, f64::from(stop.room)) as u32;
            let room_disagree = stop.room - room_agree;
            command(
                &sim,
                &bot,
                channel,
                &facilitator,
                "room",
                json!({"agree": room_agree, "disagree": room_disagree}),
            )
            .await?;
            let reply = command(
                &sim,
                &bot,
                channel,
                &facilitator,
                "statement close",
                json!({}),
            )
            .await?;
            // A late reaction after the close: it must not count.
            if let Some(late) = people.first() {
                sim.react(channel, message.id, late, RED).await?;
            }
            let (agree, disagree) = expect.result();
            let want = (agree + room_agree, disagree + room_disagree);
            let got = totals(&reply.content)
                .with_context(|| format!("no result in the bot's reply: {}", reply.content))?;
            if got != want {
                bail!(
                    "{} statement {}: the bot counted 🟩 {} · 🟥 {}, the participants gave 🟩 {} · 🟥 {}\n{}",
                    stop.municipality, index + 1, got.0, got.1, want.0, want.1, bot.log_text()
                );
            }
            checked += 1;
            let n = want.0 + want.1;
            say(format!(
                "  stelling {}/{}: online 🟩 {agree} · 🟥 {disagree}, zaal 🟩 {room_agree} · 🟥 {room_disagree} → 🟩 {} · 🟥 {} · n={n} ({:.0}% eens) ✓",
                index + 1,
                deck.len(),
                want.0,
                want.1,
                f64::from(want.0) * 100.0 / f64::from(n.max(1))
            ));
        }
        command(&sim, &bot, channel, &facilitator, "session end", json!({})).await?;
    }
    let calls = sim.calls().len();
    let events = sim.dispatched().len();
    if bot.log_text().contains(crate::discord::DROPPED_EVENT) {
        bail!("serenity dropped a gateway payload:\n{}", bot.log_text());
    }
    bot.stop()?;
    say(format!(
        "\n· tour done: {checked} results checked against the participants' reactions; {events} gateway events, {calls} REST calls"
    ));

    let store = crate::store::Store::open(&db)?;
    let written = reports::write_all(
        &store,
        &decks,
        &options.out,
        &reports::Mark::demo(Language::Nl),
    )?;
    say(format!(
        "· wrote {} files to {} in {:.1} s:",
        written.len(),
        options.out.display(),
        started.elapsed().as_secs_f64()
    ));
    for file in &written {
        say(format!("  {}", file));
    }
    Ok(written)
}

fn start_bot(sim: &Sim, db: &Path, statements: &Path) -> anyhow::Result<BotProcess> {
    let exe = std::env::current_exe().context("cannot find the stemkaart binary")?;
    let mut child = Command::new(exe)
        .arg("run")
        .env("DISCORD_TOKEN", sim.token())
        .env("DISCORD_API_URL", sim.base_url())
        .env("STEMKAART_GUILD_ID", sim.guild_id().to_string())
        .env("STEMKAART_DB", db)
        .env("STEMKAART_STATEMENTS", statements)
        .env_remove("STEMKAART_VOTER_KEY")
        .env_remove("STEMKAART_CONFIG")
        .env_remove("STEMKAART_FACILITATOR_ROLE")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the bot")?;
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let stderr = child.stderr.take().expect("piped");
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().expect("log").push(line);
        }
    });
    Ok(BotProcess { child, log })
}

async fn wait_until(
    bot: &BotProcess,
    limit: Duration,
    mut done: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            bail!("gave up after {limit:?}; bot log:\n{}", bot.log_text());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn command(
    sim: &Sim,
    bot: &BotProcess,
    channel: u64,
    user: &SimUser,
    name: &str,
    options: serde_json::Value,
) -> anyhow::Result<crate::sim::Reply> {
    sim.command(channel, user, name, options)
        .await
        .with_context(|| format!("/{name} failed; bot log:\n{}", bot.log_text()))
}

/// The totals of a result text: `🟩 a · 🟥 d`.
fn totals(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().find(|l| l.contains("n="))?;
    let after = |marker: &str| -> Option<u32> {
        let start = line.find(marker)? + marker.len();
        line[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    Some((after("🟩 ")?, after("🟥 ")?))
}
