//! Lexical path work: joining a tracee's relative path to its directory and
//! cleaning the result (`.`, `..`, repeated slashes) the way Go's
//! `filepath.Clean` does, so both interceptors show the same path.
//!
//! Pure string work: it never touches the file system (symlinks stay as the
//! program wrote them).

/// Join `path` to `base` when relative, then clean.
pub fn resolve(base: &str, path: &str) -> String {
    if path.starts_with('/') || base.is_empty() {
        clean(path)
    } else {
        let mut joined = String::with_capacity(base.len() + 1 + path.len());
        joined.push_str(base);
        joined.push('/');
        joined.push_str(path);
        clean(&joined)
    }
}

/// Clean a path lexically: one slash between names, no `.`, `..` removed with
/// the name before it (never above `/`), no trailing slash, `.` for empty.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            n => parts.push(n),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// [`clean`], except that an empty path stays empty and an abstract unix
/// socket name (`@name`) is kept as written.
pub fn clean_unless_empty(path: &str) -> String {
    if path.is_empty() || path.starts_with('@') {
        path.to_string()
    } else {
        clean(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_go_filepath_clean() {
        for (input, want) in [
            ("/a/b/../c", "/a/c"),
            ("/a//b/./c/", "/a/b/c"),
            ("/../../etc", "/etc"),
            ("/", "/"),
            ("a/../../b", "../b"),
            ("", "."),
            ("./", "."),
        ] {
            assert_eq!(clean(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn resolves_relative_paths_against_the_directory() {
        assert_eq!(resolve("/home/u", "f.txt"), "/home/u/f.txt");
        assert_eq!(resolve("/home/u", "../v/./f"), "/home/v/f");
        assert_eq!(resolve("/home/u", "/etc/passwd"), "/etc/passwd");
        assert_eq!(resolve("/", "tmp"), "/tmp");
    }
}
