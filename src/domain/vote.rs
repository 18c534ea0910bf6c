//! The vote rules of PRODUCT.md as plain functions over plain data.
//!
//! A participant's vote in a round follows from the 🟩/🟥 reactions they have on the statement
//! message: the most recently added colour that is still there counts; with none left there is
//! no vote. [`VoterState`] is everything the bot needs to remember per participant and round to
//! apply that rule, and it changes only through three transitions:
//!
//! - [`VoterState::added`] / [`VoterState::removed`]: a reaction event seen in gateway order;
//! - [`VoterState::reconciled`]: Discord's reaction lists say which colours are on the message
//!   now (after the bot was offline, or at close). Presence always follows Discord; order is
//!   kept from what the bot saw, and where it saw nothing the vote is [`Vote::Ambiguous`].

use serde::{Deserialize, Serialize};

/// The two cards. 🟩 is *eens* (agree), 🟥 is *oneens* (disagree).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Colour {
    Agree,
    Disagree,
}

impl Colour {
    pub const AGREE_EMOJI: &'static str = "🟩";
    pub const DISAGREE_EMOJI: &'static str = "🟥";

    /// The colour an emoji stands for; `None` for every other emoji (they never count).
    pub fn from_emoji(emoji: &str) -> Option<Colour> {
        match emoji {
            Self::AGREE_EMOJI => Some(Colour::Agree),
            Self::DISAGREE_EMOJI => Some(Colour::Disagree),
            _ => None,
        }
    }

    pub fn emoji(self) -> &'static str {
        match self {
            Colour::Agree => Self::AGREE_EMOJI,
            Colour::Disagree => Self::DISAGREE_EMOJI,
        }
    }

    pub fn other(self) -> Colour {
        match self {
            Colour::Agree => Colour::Disagree,
            Colour::Disagree => Colour::Agree,
        }
    }

    pub const BOTH: [Colour; 2] = [Colour::Agree, Colour::Disagree];
}

/// What one participant has on one statement message, as far as the bot knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoterState {
    /// No 🟩 and no 🟥.
    #[default]
    Nothing,
    /// Exactly one colour.
    One(Colour),
    /// Both colours, and the bot saw which one was added last.
    Both { latest: Colour },
    /// Both colours, added while the bot could not see the order (it was offline).
    BothUnknownOrder,
}

/// What a [`VoterState`] counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vote {
    None,
    Counted(Colour),
    /// Both colours are on the message and the order is unknown: not counted, but reported.
    Ambiguous,
}

/// Which colours a participant has on the message according to Discord's reaction lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Presence {
    pub agree: bool,
    pub disagree: bool,
}

impl Presence {
    pub fn has(self, colour: Colour) -> bool {
        match colour {
            Colour::Agree => self.agree,
            Colour::Disagree => self.disagree,
        }
    }

    pub fn with(mut self, colour: Colour) -> Presence {
        match colour {
            Colour::Agree => self.agree = true,
            Colour::Disagree => self.disagree = true,
        }
        self
    }
}

impl VoterState {
    pub fn vote(self) -> Vote {
        match self {
            VoterState::Nothing => Vote::None,
            VoterState::One(colour) | VoterState::Both { latest: colour } => Vote::Counted(colour),
            VoterState::BothUnknownOrder => Vote::Ambiguous,
        }
    }

    /// The colours on the message in this state.
    pub fn presence(self) -> Presence {
        match self {
            VoterState::Nothing => Presence::default(),
            VoterState::One(colour) => Presence::default().with(colour),
            VoterState::Both { .. } | VoterState::BothUnknownOrder => Presence {
                agree: true,
                disagree: true,
            },
        }
    }

    /// A reaction of `colour` was added. An add is always the newest add of that colour, so it
    /// becomes the latest — also when the state already had it (a replayed event after a
    /// reconciliation).
    pub fn added(self, colour: Colour) -> VoterState {
        match self {
            VoterState::Nothing => VoterState::One(colour),
            VoterState::One(have) if have == colour => VoterState::One(colour),
            VoterState::One(_) | VoterState::Both { .. } | VoterState::BothUnknownOrder => {
                VoterState::Both { latest: colour }
            }
        }
    }

    /// A reaction of `colour` was removed: the other colour, if still there, counts again.
    pub fn removed(self, colour: Colour) -> VoterState {
        match self {
            VoterState::Nothing => VoterState::Nothing,
            VoterState::One(have) if have == colour => VoterState::Nothing,
            VoterState::One(have) => VoterState::One(have),
            VoterState::Both { .. } | VoterState::BothUnknownOrder => {
                VoterState::One(colour.other())
            }
        }
    }

    /// Bring the state in line with Discord's reaction lists.
    ///
    /// Presence always follows Discord. When both colours are there:
    /// - the order the bot saw is kept;
    /// - if the bot knew of one colour only, the other one appeared later, so it is the latest;
    /// - if the bot knew of neither, both were added while it could not see: ambiguous.
    pub fn reconciled(self, now: Presence) -> VoterState {
        match (now.agree, now.disagree) {
            (false, false) => VoterState::Nothing,
            (true, false) => VoterState::One(Colour::Agree),
            (false, true) => VoterState::One(Colour::Disagree),
            (true, true) => match self {
                VoterState::Both { latest } => VoterState::Both { latest },
                VoterState::One(known) => VoterState::Both {
                    latest: known.other(),
                },
                VoterState::Nothing | VoterState::BothUnknownOrder => VoterState::BothUnknownOrder,
            },
        }
    }

    /// The colour the bot should remove (with Manage Messages) so that the message shows one
    /// vote per person: the older one, when both are there and the order is known.
    pub fn superseded(self) -> Option<Colour> {
        match self {
            VoterState::Both { latest } => Some(latest.other()),
            _ => None,
        }
    }

    /// One byte for storage; see [`VoterState::from_byte`].
    pub fn to_byte(self) -> u8 {
        match self {
            VoterState::Nothing => 0,
            VoterState::One(Colour::Agree) => 1,
            VoterState::One(Colour::Disagree) => 2,
            VoterState::Both {
                latest: Colour::Agree,
            } => 3,
            VoterState::Both {
                latest: Colour::Disagree,
            } => 4,
            VoterState::BothUnknownOrder => 5,
        }
    }

    pub fn from_byte(byte: u8) -> Option<VoterState> {
        Some(match byte {
            0 => VoterState::Nothing,
            1 => VoterState::One(Colour::Agree),
            2 => VoterState::One(Colour::Disagree),
            3 => VoterState::Both {
                latest: Colour::Agree,
            },
            4 => VoterState::Both {
                latest: Colour::Disagree,
            },
            5 => VoterState::BothUnknownOrder,
            _ => return None,
        })
    }
}

/// Online counts of one round: what the states of all participants add up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineCount {
    pub agree: u32,
    pub disagree: u32,
    /// Participants with both colours whose order the bot could not know; not counted.
    pub ambiguous: u32,
}

impl OnlineCount {
    pub fn of<I: IntoIterator<Item = VoterState>>(states: I) -> OnlineCount {
        let mut count = OnlineCount::default();
        for state in states {
            match state.vote() {
                Vote::None => {}
                Vote::Counted(Colour::Agree) => count.agree += 1,
                Vote::Counted(Colour::Disagree) => count.disagree += 1,
                Vote::Ambiguous => count.ambiguous += 1,
            }
        }
        count
    }
}

/// One reaction event as the gateway delivers it, reduced to what the rules need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reaction<V> {
    pub voter: V,
    /// The reacting user is a bot (this bot included). Their reactions never count.
    pub by_bot: bool,
    pub emoji: String,
    pub added: bool,
}

/// The votes of one round while it is open: voter → state. `V` is the voter key (a pseudonym
/// in the bot; anything hashable in tests).
#[derive(Clone, Debug)]
pub struct RoundVotes<V> {
    states: std::collections::HashMap<V, VoterState>,
}

impl<V> Default for RoundVotes<V> {
    fn default() -> Self {
        RoundVotes {
            states: std::collections::HashMap::new(),
        }
    }
}

impl<V: std::hash::Hash + Eq + Clone> RoundVotes<V> {
    pub fn from_states(states: impl IntoIterator<Item = (V, VoterState)>) -> Self {
        RoundVotes {
            states: states.into_iter().collect(),
        }
    }

    /// Apply one event in gateway order. Returns the voter and their new state when it changed
    /// (what must be stored); bots and other emoji change nothing.
    pub fn apply(&mut self, reaction: Reaction<V>) -> Option<(V, VoterState)> {
        if reaction.by_bot {
            return None;
        }
        let colour = Colour::from_emoji(&reaction.emoji)?;
        let before = self.state(&reaction.voter);
        let after = if reaction.added {
            before.added(colour)
        } else {
            before.removed(colour)
        };
        self.set(reaction.voter, before, after)
    }

    /// Apply Discord's reaction lists: `present` holds every non-bot user with a 🟩 or 🟥 on the
    /// message. Returns the changed states.
    pub fn reconcile(
        &mut self,
        present: &std::collections::HashMap<V, Presence>,
    ) -> Vec<(V, VoterState)> {
        let mut voters: Vec<V> = self.states.keys().cloned().collect();
        voters.extend(
            present
                .keys()
                .filter(|v| !self.states.contains_key(*v))
                .cloned(),
        );
        voters
            .into_iter()
            .filter_map(|voter| {
                let before = self.state(&voter);
                let now = present.get(&voter).copied().unwrap_or_default();
                let after = before.reconciled(now);
                self.set(voter, before, after)
            })
            .collect()
    }

    /// Someone with Manage Messages removed every reaction from the message (`None`) or every
    /// reaction of one emoji. Returns the changed states.
    pub fn clear(&mut self, emoji: Option<&str>) -> Vec<(V, VoterState)> {
        let colour = match emoji {
            None => None,
            Some(emoji) => match Colour::from_emoji(emoji) {
                Some(colour) => Some(colour),
                None => return Vec::new(), // another emoji: no vote changes
            },
        };
        let voters: Vec<V> = self.states.keys().cloned().collect();
        voters
            .into_iter()
            .filter_map(|voter| {
                let before = self.state(&voter);
                let after = match colour {
                    None => VoterState::Nothing,
                    Some(colour) => before.removed(colour),
                };
                self.set(voter, before, after)
            })
            .collect()
    }

    pub fn state(&self, voter: &V) -> VoterState {
        self.states.get(voter).copied().unwrap_or_default()
    }

    pub fn count(&self) -> OnlineCount {
        OnlineCount::of(self.states.values().copied())
    }

    pub fn states(&self) -> impl Iterator<Item = (&V, VoterState)> {
        self.states.iter().map(|(v, s)| (v, *s))
    }

    fn set(&mut self, voter: V, before: VoterState, after: VoterState) -> Option<(V, VoterState)> {
        if before == after {
            return None;
        }
        if after == VoterState::Nothing {
            self.states.remove(&voter);
        } else {
            self.states.insert(voter.clone(), after);
        }
        Some((voter, after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Colour::{Agree as G, Disagree as R};

    #[derive(Clone, Copy)]
    enum Step {
        Add(Colour),
        Remove(Colour),
        Sync(bool, bool),
    }
    use Step::{Add, Remove, Sync};

    fn check(steps: &[Step], expected: Vote) {
        let state = steps
            .iter()
            .fold(VoterState::Nothing, |state, step| match *step {
                Add(c) => state.added(c),
                Remove(c) => state.removed(c),
                Sync(agree, disagree) => state.reconciled(Presence { agree, disagree }),
            });
        assert_eq!(state.vote(), expected, "steps lead to {state:?}");
    }

    #[test]
    fn one_reaction_is_one_vote() {
        check(&[Add(G)], Vote::Counted(G));
        check(&[Add(R)], Vote::Counted(R));
        check(&[], Vote::None);
    }

    #[test]
    fn a_change_of_mind_counts_the_new_colour() {
        check(&[Add(G), Add(R)], Vote::Counted(R));
        check(&[Add(R), Add(G)], Vote::Counted(G));
        check(&[Add(G), Remove(G), Add(R)], Vote::Counted(R));
    }

    #[test]
    fn removing_the_current_colour_withdraws_or_falls_back() {
        check(&[Add(G), Remove(G)], Vote::None);
        check(&[Add(G), Add(R), Remove(R)], Vote::Counted(G));
        check(&[Add(G), Add(R), Remove(G)], Vote::Counted(R));
        check(&[Add(G), Add(R), Remove(R), Remove(G)], Vote::None);
    }

    #[test]
    fn removing_what_is_not_there_changes_nothing() {
        check(&[Remove(G)], Vote::None);
        check(&[Add(R), Remove(G)], Vote::Counted(R));
    }

    #[test]
    fn both_colours_added_while_offline_are_ambiguous() {
        check(&[Sync(true, true)], Vote::Ambiguous);
        // ...and the next thing the bot sees settles it.
        check(&[Sync(true, true), Remove(R)], Vote::Counted(G));
        check(&[Sync(true, true), Add(R)], Vote::Counted(R));
    }

    #[test]
    fn reconciliation_follows_discord_and_keeps_known_order() {
        check(&[Add(G), Sync(false, false)], Vote::None);
        check(&[Sync(false, true)], Vote::Counted(R));
        check(&[Add(G), Add(R), Sync(true, true)], Vote::Counted(R));
        check(&[Add(R), Add(G), Sync(true, true)], Vote::Counted(G));
        // Known 🟩, and 🟥 appeared while offline: 🟥 came later.
        check(&[Add(G), Sync(true, true)], Vote::Counted(R));
        // Both known, 🟥 removed while offline.
        check(&[Add(G), Add(R), Sync(true, false)], Vote::Counted(G));
    }

    #[test]
    fn older_colour_is_superseded_only_when_order_is_known() {
        assert_eq!(VoterState::Nothing.added(G).added(R).superseded(), Some(G));
        assert_eq!(VoterState::BothUnknownOrder.superseded(), None);
        assert_eq!(VoterState::One(G).superseded(), None);
    }

    #[test]
    fn state_bytes_round_trip() {
        for byte in 0..=5u8 {
            let state = VoterState::from_byte(byte).unwrap();
            assert_eq!(state.to_byte(), byte);
        }
        assert_eq!(VoterState::from_byte(6), None);
    }

    #[test]
    fn other_emoji_are_no_colour() {
        assert_eq!(Colour::from_emoji("🟩"), Some(G));
        assert_eq!(Colour::from_emoji("🟥"), Some(R));
        for other in ["👍", "🟢", "🔴", "green", ""] {
            assert_eq!(Colour::from_emoji(other), None, "{other}");
        }
    }

    #[test]
    fn clearing_reactions_withdraws_votes() {
        let mut votes = RoundVotes::from_states([
            (1, VoterState::One(G)),
            (2, VoterState::Both { latest: G }),
            (3, VoterState::One(R)),
        ]);
        let mut changed = votes.clear(Some("🟩"));
        changed.sort_by_key(|(v, _)| *v);
        assert_eq!(changed, [(1, VoterState::Nothing), (2, VoterState::One(R))]);
        assert!(votes.clear(Some("👍")).is_empty());
        assert_eq!(votes.clear(None).len(), 2);
        assert_eq!(votes.count(), OnlineCount::default());
    }

    #[test]
    fn online_count_adds_up_states() {
        let count = OnlineCount::of([
            VoterState::One(G),
            VoterState::Both { latest: R },
            VoterState::BothUnknownOrder,
            VoterState::Nothing,
            VoterState::One(G),
        ]);
        assert_eq!(
            count,
            OnlineCount {
                agree: 2,
                disagree: 1,
                ambiguous: 1
            }
        );
    }
}
