import ArgumentParser

/// `--progress`: whether rank 0 rewrites a progress line (with carriage returns) while an epoch runs, or
/// prints only one line per epoch. Carriage returns belong on a terminal, never in a log file.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never

    /// `auto` follows what is known of the output: `launch` says whether its own output is a terminal
    /// (`VAE_DIST_PROGRESS`); under plain mpirun or srun every rank writes to a pseudo-terminal even when
    /// the job's output goes to a file, so nobody can tell and no progress line is shown; a process started
    /// alone checks its standard output.
    func showsProgress(environment: [String: String], standardOutputIsTerminal: Bool) -> Bool {
        switch self {
        case .always: return true
        case .never: return false
        case .auto:
            if let told = environment["VAE_DIST_PROGRESS"] { return told != "0" }
            let underLauncher = ["OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"].contains { environment[$0] != nil }
            return !underLauncher && standardOutputIsTerminal
        }
    }
}
