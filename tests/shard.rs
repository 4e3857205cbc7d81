//! Sharding: `--shard I/N` splits a run by target, `kpsa merge` joins the
//! shard reports into exactly the report one unsharded run writes.

mod common;

use std::path::Path;

use common::Repo;

/// The demo repository (a chart, an overlay, plain manifests) with ten more
/// charts and three more manifest directories.
fn monorepo() -> Repo {
    let repo = Repo::new("demo");
    let chart = std::fs::read_to_string(repo.path().join("charts/checkout/Chart.yaml")).unwrap();
    for i in 1..=10 {
        let dir = format!("charts/app-{i}");
        copy(
            &repo.path().join("charts/checkout"),
            &repo.path().join(&dir),
        );
        repo.write(
            &format!("{dir}/Chart.yaml"),
            &chart.replace("name: checkout", &format!("name: app-{i}")),
        );
    }
    for d in ["apps/a", "apps/b", "jobs"] {
        repo.write(
            &format!("{d}/pod.yaml"),
            &common::PRIVILEGED_DEPLOYMENT
                .replace("name: web", &format!("name: {}", d.replace('/', "-"))),
        );
    }
    repo.commit("monorepo");
    repo
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Run `args` whole and in N shards; the merged reports must equal the whole
/// run's, format by format.
fn assert_merge_is_whole(repo: &Repo, args: &[&str], shards: &[u32]) {
    let dir = tempfile::tempdir().unwrap();
    let formats = ["json", "sarif", "markdown", "codequality", "junit", "text"];
    let whole = |format: &str| {
        let mut a = args.to_vec();
        a.extend(["-q", "--color", "never", "--format", format]);
        repo.kpsa(".", &a, &[])
    };
    let want: Vec<common::Run> = formats.iter().map(|f| whole(f)).collect();
    for &n in shards {
        let mut files = Vec::new();
        let mut evaluated = 0;
        for i in 1..=n {
            let out = dir.path().join(format!("shard-{i}-of-{n}.json"));
            let shard = format!("{i}/{n}");
            let mut a = args.to_vec();
            a.extend([
                "-q",
                "--format",
                "json",
                "--output",
                out.to_str().unwrap(),
                "--shard",
                &shard,
            ]);
            let run = repo.kpsa(".", &a, &[]);
            assert!(run.code <= 1, "shard {shard}: {}", run.stderr);
            assert!(
                run.stderr.is_empty(),
                "a shard is quiet, even an empty one: {}",
                run.stderr
            );
            let r: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
            assert_eq!(r["shard"]["index"], i);
            evaluated += r["plan"]["evaluated"].as_array().unwrap().len();
            files.push(out.display().to_string());
        }
        if n > 1 {
            assert!(evaluated > 0);
        }
        for (format, want) in formats.iter().zip(&want) {
            if *format == "codequality"
                && args[0] == "diff"
                && !args.contains(&"--include-unchanged")
            {
                // Code Quality holds every current finding: a diff saved
                // without --include-unchanged cannot (kpsa report warns).
                continue;
            }
            let mut a = vec!["merge"];
            a.extend(files.iter().map(String::as_str));
            a.extend(["--color", "never", "--format", format]);
            let got = common::kpsa(dir.path(), &a);
            assert_eq!(
                got.code, want.code,
                "{args:?} {n} shards, {format}: {}",
                got.stderr
            );
            assert_eq!(got.stdout, want.stdout, "{args:?} {n} shards, {format}");
        }
    }
}

#[test]
fn merged_shards_of_a_scan_are_the_whole_scan() {
    let repo = monorepo();
    assert_merge_is_whole(&repo, &["scan"], &[1, 2, 3, 7]);
}

#[test]
fn merged_shards_of_a_diff_are_the_whole_diff() {
    let repo = monorepo();
    // A change that renames a chart (and adds a finding to it), removes
    // one, touches a third and a manifest.
    repo.git(&["mv", "charts/app-3", "charts/app-3-renamed"]);
    std::fs::remove_dir_all(repo.path().join("charts/app-5")).unwrap();
    let values = repo.read("charts/app-1/values.yaml");
    repo.write(
        "charts/app-1/values.yaml",
        &values.replace("securityContext:", "securityContext:\n  privileged: true"),
    );
    repo.write(
        "apps/a/pod.yaml",
        &repo
            .read("apps/a/pod.yaml")
            .replace("image: nginx", "image: nginx:2"),
    );
    repo.commit("change");
    for extra in [&[][..], &["--include-unchanged"][..]] {
        let mut args = vec!["diff", "main~1..main"];
        args.extend(extra);
        assert_merge_is_whole(&repo, &args, &[1, 2, 3, 7]);
    }
}

#[test]
fn reports_that_do_not_belong_together_are_refused() {
    let repo = monorepo();
    let dir = tempfile::tempdir().unwrap();
    let shard = |name: &str, args: &[&str]| -> String {
        let out = dir.path().join(name);
        let mut a = args.to_vec();
        a.extend(["-q", "--format", "json", "--output", out.to_str().unwrap()]);
        repo.kpsa(".", &a, &[]);
        out.display().to_string()
    };
    let s1 = shard("1.json", &["scan", "--shard", "1/3"]);
    let s2 = shard("2.json", &["scan", "--shard", "2/3"]);
    let s3 = shard("3.json", &["scan", "--shard", "3/3"]);
    let other_level = shard(
        "3-baseline.json",
        &["scan", "--shard", "3/3", "--level", "baseline"],
    );
    let of_two = shard("2-of-2.json", &["scan", "--shard", "2/2"]);
    let whole = shard("whole.json", &["scan"]);
    let diff = shard("diff.json", &["diff", "HEAD", "--shard", "3/3"]);
    // Another commit: a new chart changes the plan.
    repo.write(
        "charts/new/Chart.yaml",
        "apiVersion: v2\nname: new\nversion: 1.0.0\n",
    );
    repo.commit("another");
    let later = shard("3-later.json", &["scan", "--shard", "3/3"]);
    // A forged report that claims a target of shard 1.
    let mut forged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s3).unwrap()).unwrap();
    let s1v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s1).unwrap()).unwrap();
    let stolen = s1v["plan"]["evaluated"][0].clone();
    forged["plan"]["evaluated"]
        .as_array_mut()
        .unwrap()
        .push(stolen.clone());
    let forged_path = dir.path().join("forged.json");
    std::fs::write(&forged_path, forged.to_string()).unwrap();
    let forged = forged_path.display().to_string();
    for (reports, says) in [
        (vec![&s1, &s2], "shard 3/3 is missing".to_string()),
        (
            vec![&s1, &s2, &s2, &s3],
            "shard 2/3 is given twice".to_string(),
        ),
        (vec![&s1, &s2, &other_level], "other settings".to_string()),
        (vec![&s1, &s2, &of_two], "is shard 2/2".to_string()),
        (vec![&s1, &whole], "is not a shard".to_string()),
        (vec![&s1, &s2, &diff], "its command is".to_string()),
        (
            vec![&s1, &s2, &later],
            "planned different targets".to_string(),
        ),
        (
            vec![&s1, &s2, &forged],
            format!(
                "target {} is claimed by two shards",
                stolen.as_str().unwrap()
            ),
        ),
    ] {
        let mut a = vec!["merge"];
        a.extend(reports.iter().map(|s| s.as_str()));
        let run = common::kpsa(dir.path(), &a);
        assert_eq!(run.code, 2, "{says}: {}", run.stderr);
        assert!(
            run.stderr.contains(&says),
            "wanted {says:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty());
    }
}
