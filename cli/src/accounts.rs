//! `--user` and `--group` to ids: numbers as they are, names looked up in
//! `/etc/passwd` and `/etc/group`, read and parsed here (the tool has no
//! unsafe code, so no `getpwnam_r`). Accounts only NSS knows (LDAP, sssd,
//! systemd's dynamic users) are not found by name: give their numbers.

use std::path::Path;

/// What `--user` and `--group` resolve to: the ids the child runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The supplementary groups: with `--user NAME`, the groups of
    /// `/etc/group` that list the name, as `initgroups` (login, su,
    /// systemd's `User=`) gives them; else none.
    pub groups: Option<Vec<u32>>,
}

/// The ids of `--user` and `--group`, from the files under `etc`
/// (`/etc` but in tests).
///
/// A user by name brings its primary group (unless `--group` names
/// another) and its supplementary groups. A user by number that
/// `/etc/passwd` does not know needs `--group`: the child would otherwise
/// keep procrun's group, root's when procrun runs as root.
pub fn resolve(
    etc: &Path,
    user: Option<&str>,
    group: Option<&str>,
) -> Result<Option<Credentials>, String> {
    if user.is_none() && group.is_none() {
        return Ok(None);
    }
    let gid = match group {
        Some(g) => Some(match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => find(&etc.join("group"), |f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| format!("--group: no group {g:?} in /etc/group"))?,
        }),
        None => None,
    };
    let Some(user) = user else {
        return Ok(Some(Credentials {
            uid: None,
            gid,
            groups: None,
        }));
    };
    let passwd = etc.join("passwd");
    let entry = match user.parse::<u32>() {
        Ok(n) => find(&passwd, |f| f[2].parse() == Ok(n)),
        Err(_) => Some(
            find(&passwd, |f| f[0] == user)
                .ok_or_else(|| format!("--user: no user {user:?} in /etc/passwd"))?,
        ),
    };
    let Some(entry) = entry else {
        let uid = user.parse().expect("a number, as matched above");
        if gid.is_none() {
            return Err(format!(
                "--user: uid {uid} is not in /etc/passwd, so it has no group: give --group too"
            ));
        }
        return Ok(Some(Credentials {
            uid: Some(uid),
            gid,
            groups: Some(Vec::new()),
        }));
    };
    let uid = entry[2]
        .parse()
        .map_err(|_| format!("--user: /etc/passwd has a bad uid for {user:?}"))?;
    let primary: u32 = entry[3]
        .parse()
        .map_err(|_| format!("--user: /etc/passwd has a bad gid for {user:?}"))?;
    let gid = gid.unwrap_or(primary);
    let name = &entry[0];
    let mut groups = vec![gid];
    for g in lines(&etc.join("group")) {
        let f: Vec<&str> = g.split(':').collect();
        if f.len() >= 4 && f[3].split(',').any(|m| m == name) {
            if let Ok(id) = f[2].parse::<u32>() {
                if !groups.contains(&id) {
                    groups.push(id);
                }
            }
        }
    }
    Ok(Some(Credentials {
        uid: Some(uid),
        gid: Some(gid),
        groups: Some(groups),
    }))
}

/// The lines of `file`, none when it cannot be read.
fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The fields of the first entry of a colon-separated account file for
/// which `pick` holds (entries with fewer than four fields are skipped).
fn find(file: &Path, pick: impl Fn(&[&str]) -> bool) -> Option<Vec<String>> {
    lines(file).iter().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && !l.starts_with('#') && pick(&f))
            .then(|| f.iter().map(|s| (*s).to_owned()).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etc() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            "root:x:0:0:root:/root:/bin/bash\n\
             # a comment\n\
             alice:x:60123:60124::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("group"),
            "root:x:0:\nalice:x:60124:\nops:x:60130:bob,alice\nother:x:60131:bob\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn a_user_by_name_brings_its_primary_and_supplementary_groups() {
        let e = etc();
        let c = resolve(e.path(), Some("alice"), None).unwrap().unwrap();
        assert_eq!(
            c,
            Credentials {
                uid: Some(60123),
                gid: Some(60124),
                groups: Some(vec![60124, 60130]),
            }
        );
        let by_number = resolve(e.path(), Some("60123"), None).unwrap().unwrap();
        assert_eq!(by_number, c);
        let other = resolve(e.path(), Some("alice"), Some("ops"))
            .unwrap()
            .unwrap();
        assert_eq!(other.gid, Some(60130));
        assert_eq!(other.groups, Some(vec![60130]));
    }

    #[test]
    fn unknown_names_and_a_groupless_uid_are_errors() {
        let e = etc();
        assert!(resolve(e.path(), Some("nobody-here"), None).is_err());
        assert!(resolve(e.path(), None, Some("nogroup-here")).is_err());
        assert!(resolve(e.path(), Some("60999"), None).is_err());
        let c = resolve(e.path(), Some("60999"), Some("60998"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.uid, c.gid, c.groups),
            (Some(60999), Some(60998), Some(vec![]))
        );
        assert_eq!(resolve(e.path(), None, None), Ok(None));
        let g = resolve(e.path(), None, Some("7")).unwrap().unwrap();
        assert_eq!((g.uid, g.gid, g.groups), (None, Some(7), None));
    }
}
