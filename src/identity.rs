//! Names for processes that stay the same from one capture to the next, for CI tools that
//! track a test case by its name (GitLab, Jenkins): never a pid, which changes on every boot.

/// One name per process, unique within `processes` (name, command line, order key): the
/// process name alone where no other process has it, otherwise `name #k`, its rank among the
/// processes of that name ordered by command line, then by the order key (a pid or a start
/// time). The rank, not the command line, tells them apart so that a name never carries
/// arguments (`--redact` hides those) and stays short.
pub fn stable_names(processes: &[(&str, &str, u64)]) -> Vec<String> {
    let mut order: Vec<usize> = (0..processes.len()).collect();
    order.sort_unstable_by_key(|&i| (processes[i], i));
    let mut names = vec![String::new(); processes.len()];
    for group in order.chunk_by(|&a, &b| processes[a].0 == processes[b].0) {
        for (rank, &i) in group.iter().enumerate() {
            let name = processes[i].0;
            names[i] = if group.len() == 1 {
                name.to_string()
            } else {
                format!("{name} #{}", rank + 1)
            };
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_named_processes_are_ranked_by_command_line_then_order() {
        let names = stable_names(&[
            ("vi", "vi /etc/b", 10),
            ("init", "init", 1),
            ("vi", "vi /etc/a", 30),
            ("ftpd", "ftpd", 900),
            ("ftpd", "ftpd", 700),
        ]);
        assert_eq!(names, ["vi #2", "init", "vi #1", "ftpd #2", "ftpd #1"]);
    }
}
