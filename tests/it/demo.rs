//! `stemkaart demo` as a new user runs it: the whole simulated tour, charts and CSV.

use std::process::Command;

#[test]
fn the_demo_plays_the_tour_and_writes_charts_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("charts");
    let statements = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("statements");
    let output = Command::new(env!("CARGO_BIN_EXE_stemkaart"))
        .args(["demo", "--out"])
        .arg(&out)
        .arg("--statements")
        .arg(&statements)
        .current_dir(dir.path())
        .env_remove("STEMKAART_DB")
        .env_remove("DISCORD_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("12 results checked against the participants' reactions"),
        "{stdout}"
    );
    for municipality in ["Arnhem", "Eindhoven", "Súdwest Fryslân", "Heerlen"] {
        assert!(stdout.contains(municipality), "{stdout}");
    }
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 9, "{names:?}");
    assert!(
        names.iter().all(|n| n.starts_with("demo-")),
        "marked as simulated: {names:?}"
    );
    for name in names.iter().filter(|n| n.ends_with(".png")) {
        let bytes = std::fs::read(out.join(name)).unwrap();
        let image = crate::charts::decode(name, &bytes);
        assert!(image.height > 200, "{name}");
        assert!(stdout.contains(name.as_str()), "the demo lists {name}");
    }
    let csv = std::fs::read_to_string(out.join("demo-export.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13, "{csv}");
    assert!(
        csv.lines().skip(1).all(|l| l.contains("(gesimuleerd)")),
        "{csv}"
    );
    // Nothing is left behind but the output.
    assert!(!dir.path().join("data").exists());
}
