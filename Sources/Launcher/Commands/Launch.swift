import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts this same binary on `n` ranks under `mpirun`, with the flags a machine needs:
/// `--oversubscribe` when local ranks exceed cores, `--allow-run-as-root` when run as root; with
/// `--hostfile` or `--host` on several hosts (where oversubscription is the hostfile's `slots` to say).
/// On one host the launcher replaces itself with `mpirun` (exec), so the job's exit status and Ctrl-C pass
/// straight through. On several hosts it adds TCP keep-alive settings so mpirun notices a host that is
/// gone, and supervises mpirun (`MPIRunSupervisor`) so the job ends even when a host cannot be reached.
struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a local multi-rank run of vae-dist under mpirun.",
        discussion: """
            Everything after `--` is passed to every rank.
            Examples:
              vae-dist launch -n 2 -- info
              vae-dist launch -n 4 -- train --dataset fashion-mnist --epochs 10
              vae-dist launch -n 2 --dry-run -- info     print the mpirun command only
              vae-dist launch -n 4 --host nodeA:2,nodeB:2 -- train --dataset fashion-mnist
              vae-dist launch -n 16 --hostfile cluster/hostfile.example -- info
            Every host needs the same build at the same path. With Slurm, see cluster/slurm.sbatch.
            """)

    @Option(name: [.customShort("n"), .customLong("np")], help: "Number of ranks.")
    var ranks: Int = 2

    @Option(help: "The mpirun to use (default: $MPIRUN, else the first mpirun on PATH).")
    var mpirun: String?

    @Option(name: .customLong("mpi-arg"), parsing: .unconditionalSingleValue,
            help: "An extra argument for mpirun (repeatable), e.g. --mpi-arg=--bind-to --mpi-arg=none.")
    var mpiArguments: [String] = []

    @Option(help: "An Open MPI hostfile naming the hosts (and their slots) to start ranks on.")
    var hostfile: String?

    @Option(help: "Hosts to start ranks on, comma-separated, each optionally with its slots: a:2,b:2.")
    var host: String?

    @Option(help: "With several hosts: seconds mpirun may take to end the job after a rank reported an error, before the launcher kills it.")
    var abortGrace: Double = 15

    @Flag(help: "Print the mpirun command line and exit without running it.")
    var dryRun = false

    @Argument(parsing: .postTerminator, help: "The vae-dist subcommand and options every rank runs.")
    var rankArguments: [String] = []

    func validate() throws {
        guard ranks >= 1 else { throw ValidationError("-n must be at least 1 (got \(ranks)).") }
        guard ranks <= 4096 else { throw ValidationError("-n \(ranks) is more local ranks than this launcher supports (4096).") }
        if hostfile != nil && host != nil { throw ValidationError("Give --hostfile or --host, not both.") }
        if let hostfile, !FileManager.default.isReadableFile(atPath: hostfile) {
            throw ValidationError("--hostfile \(hostfile): no such readable file.")
        }
        if let host, host.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0.contains(" ") }) {
            throw ValidationError("--host takes comma-separated host names (optionally name:slots), e.g. a:2,b:2 (got '\(host)').")
        }
        guard abortGrace > 0 && abortGrace.isFinite else { throw ValidationError("--abort-grace must be a positive number of seconds.") }
        guard !rankArguments.isEmpty else {
            throw ValidationError("Name what the ranks should run after `--`, e.g. `vae-dist launch -n 2 -- info`.")
        }
    }

    func run() throws {
        let executable = try mpirunPath()
        // Open MPI gives ranks a pseudo-terminal even when the launcher's output goes to a file; tell the
        // ranks whether a person is watching, so progress lines do not litter logs.
        let progress = ["-x", "VAE_DIST_PROGRESS=\(isatty(STDOUT_FILENO) != 0 ? 1 : 0)"]
        let hosts = hostfile.map { ["--hostfile", $0] } ?? host.map { ["--host", $0] } ?? []
        let keepAlive = hosts.isEmpty ? [] : Launch.keepAliveArguments(
            besides: mpiArguments, environment: ProcessInfo.processInfo.environment)
        let command = [executable] + Launch.mpirunArguments(
            ranks: ranks, cores: Launch.onlineCores(), isRoot: geteuid() == 0, hosts: hosts,
            extra: progress + keepAlive + mpiArguments, program: Launch.currentExecutable(),
            programArguments: rankArguments)
        if dryRun {
            print(command.map(Launch.shellQuoted).joined(separator: " "))
            return
        }
        fflush(nil)
        if !hosts.isEmpty {
            let status = try MPIRunSupervisor(executable: executable, arguments: command, grace: abortGrace).run()
            throw ExitCode(status)
        }
        let cArguments = command.map { strdup($0) } + [nil]
        execv(executable, cArguments)
        throw ValidationError("cannot run \(executable): \(String(cString: strerror(errno)))")
    }

    /// The `mpirun` arguments of a job; `hosts` is `--hostfile F` or `--host a,b`, empty for this host
    /// alone. Pure, so it is unit-tested (LauncherTests).
    static func mpirunArguments(
        ranks: Int, cores: Int, isRoot: Bool, hosts: [String] = [], extra: [String], program: String,
        programArguments: [String]
    ) -> [String] {
        var arguments = ["-np", String(ranks)] + hosts
        if hosts.isEmpty && ranks > cores { arguments.append("--oversubscribe") }
        if isRoot { arguments.append("--allow-run-as-root") }
        arguments += extra
        arguments.append(program)
        arguments += programArguments
        return arguments
    }

    /// Open MPI's TCP keep-alive for the connections between mpirun and its daemons on other hosts, so a
    /// host that vanishes without a word (link down, power lost: no TCP reset arrives) is noticed within
    /// about 11 s of silence (5 s idle, then 3 probes 2 s apart) instead of Open MPI's 8 minutes (300 s,
    /// 9 × 20 s); mpirun then ends the job naming the lost host. Parameters the user set (`--mpi-arg`
    /// or `OMPI_MCA_*`) are left alone.
    static let keepAliveSettings = [("oob_tcp_keepalive_time", "5"), ("oob_tcp_keepalive_intvl", "2"),
                                    ("oob_tcp_keepalive_probes", "3")]

    static func keepAliveArguments(besides userArguments: [String], environment: [String: String]) -> [String] {
        keepAliveSettings.filter { name, _ in
            !userArguments.contains(name) && environment["OMPI_MCA_" + name] == nil
        }.flatMap { ["--mca", $0.0, $0.1] }
    }

    private func mpirunPath() throws -> String {
        if let explicit = mpirun ?? ProcessInfo.processInfo.environment["MPIRUN"], !explicit.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: explicit) else {
                throw ValidationError("mpirun '\(explicit)' is not an executable file.")
            }
            return explicit
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/mpirun"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ValidationError(
            "mpirun not found on PATH. Install Open MPI (Debian: `apt-get install openmpi-bin libopenmpi-dev`, "
                + "or run scripts/setup) or pass --mpirun PATH.")
    }

    static func onlineCores() -> Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// This binary's absolute path, so the ranks run exactly the build that launched them.
    static func currentExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func shellQuoted(_ word: String) -> String {
        let safe = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@".contains($0) }
        return safe && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
