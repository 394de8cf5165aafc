import Foundation

/// Open MPI settings vae-dist makes the default when its ranks span several hosts, applied to this
/// process's environment before `MPI_Init` reads it. A value the user set (`OMPI_MCA_*` in the
/// environment, or `--mca` on the mpirun command line, which reaches the ranks the same way) is kept.
///
/// `mpi_yield_when_idle 1`: a rank waiting for a message calls `sched_yield` instead of spinning. Over TCP
/// the kernel's network stack needs CPU time on the same cores as the ranks; a spinning rank starves it
/// (the README's "Several hosts" gives the measurement).
/// On one host the ranks sum through shared memory and do not wait on the network, so nothing changes.
public enum MultiHostDefaults {
    public static let settings: [(name: String, value: String)] = [("mpi_yield_when_idle", "1")]

    /// True when the launcher says this rank's job has ranks on more than one host: Open MPI's mpirun
    /// sets `OMPI_COMM_WORLD_LOCAL_SIZE` below `OMPI_COMM_WORLD_SIZE`; Slurm's srun sets
    /// `SLURM_STEP_NUM_NODES` above 1.
    public static func spansHosts(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        if let world = environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init),
           let local = environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) {
            return local < world
        }
        return (environment["SLURM_STEP_NUM_NODES"].flatMap(Int.init) ?? 1) > 1
    }

    /// Sets each of `settings` not already in the environment, when the ranks span hosts.
    public static func apply() {
        guard spansHosts() else { return }
        for (name, value) in settings { setenv("OMPI_MCA_" + name, value, 0) }
    }
}
