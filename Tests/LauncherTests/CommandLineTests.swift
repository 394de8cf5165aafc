import ArgumentParser
import Testing
@testable import Launcher

/// The command line, in process, as swift-argument-parser's own example tests do: flags that must be
/// refused with a clear message, help texts that name what users look for, and the mpirun command line
/// `launch` builds.
struct CommandLineTests {
    /// The message ArgumentParser would print for a failed parse of `arguments`, or nil when it parses.
    static func failure<Command: ParsableCommand>(_ type: Command.Type, _ arguments: [String]) -> String? {
        do {
            _ = try type.parse(arguments)
            return nil
        } catch {
            return type.message(for: error)
        }
    }

    @Test("train refuses bad flags with a message naming the flag", arguments: [
        (["--batch-size", "0"], "--batch-size"),
        (["--epochs", "0"], "--epochs"),
        (["--lr", "-1"], "--lr"),
        (["--arch", "10-x-5"], "--arch"),
        (["--model", "gan"], "gan"),
        (["--gradient-exchange", "carrier-pigeon"], "carrier-pigeon"),
        (["--overlap", "sometimes"], "sometimes"),
        (["--bucket-kb", "0"], "--bucket-kb"),
    ])
    func trainValidation(arguments: [String], named: String) {
        let message = Self.failure(Train.self, arguments)
        #expect(message?.contains(named) == true, "\(arguments): \(message ?? "parsed")")
    }

    @Test("the defaults parse: no arguments trains")
    func defaults() throws {
        #expect(Self.failure(Train.self, []) == nil)
        let root = try VAEDist.parseAsRoot([])
        #expect(root is Train)
        let train = try Train.parse([])
        #expect(train.overlap == .auto && train.bucketKB == 512)
    }

    @Test("bench kernels refuses an unknown kernel path and bad batches")
    func benchKernelsValidation() {
        #expect(Self.failure(BenchKernels.self, ["--kernels", "sse"])?.contains("--kernels") == true)
        #expect(Self.failure(BenchKernels.self, ["--batch", "0"])?.contains("--batch") == true)
        #expect(Self.failure(BenchKernels.self, ["--arch", "huge"])?.contains("--arch") == true)
        #expect(Self.failure(BenchKernels.self, ["--kernels", "reference", "--batch", "32"]) == nil)
    }

    @Test("launch refuses a rank count of 0 and a missing command")
    func launchValidation() {
        #expect(Self.failure(Launch.self, ["-n", "0", "--", "info"])?.contains("-n must be at least 1") == true)
        #expect(Self.failure(Launch.self, ["-n", "2"])?.contains("after `--`") == true)
        #expect(Self.failure(Launch.self, ["-n", "2", "--", "info"]) == nil)
    }

    @Test("help names the subcommands and the flags users look for")
    func help() {
        let root = VAEDist.helpMessage()
        for subcommand in ["train", "sample", "eval", "launch", "bench", "info", "checkpoint"] {
            #expect(root.contains(subcommand), "vae-dist --help lacks \(subcommand)")
        }
        let train = Train.helpMessage()
        for flag in ["--gradient-exchange", "--resume", "--out", "--dataset", "--batch-size"] {
            #expect(train.contains(flag), "train --help lacks \(flag)")
        }
        #expect(BenchTrain.helpMessage().contains("--profile"))
        #expect(BenchKernels.helpMessage().contains("--kernels"))
    }

    @Test("launch builds mpirun's arguments: oversubscribe past the cores, allow-run-as-root for root")
    func mpirunArguments() {
        let asUser = Launch.mpirunArguments(ranks: 2, cores: 2, isRoot: false, extra: ["-x", "A=1"],
                                            program: "/bin/vae-dist", programArguments: ["info"])
        #expect(asUser == ["-np", "2", "-x", "A=1", "/bin/vae-dist", "info"])
        let crowded = Launch.mpirunArguments(ranks: 8, cores: 2, isRoot: true, extra: [],
                                             program: "/bin/vae-dist", programArguments: ["train", "--epochs", "1"])
        #expect(crowded == ["-np", "8", "--oversubscribe", "--allow-run-as-root", "/bin/vae-dist", "train", "--epochs", "1"])
        // Several hosts: the hosts pass through, and oversubscription is the hostfile's slots to decide.
        let cluster = Launch.mpirunArguments(ranks: 8, cores: 2, isRoot: false, hosts: ["--host", "a:4,b:4"], extra: [],
                                             program: "/bin/vae-dist", programArguments: ["info"])
        #expect(cluster == ["-np", "8", "--host", "a:4,b:4", "/bin/vae-dist", "info"])
    }

    @Test("launch refuses a missing hostfile, both host options, and a malformed host list")
    func launchHosts() {
        #expect(Self.failure(Launch.self, ["--hostfile", "/no/such/file", "--", "info"])?.contains("/no/such/file") == true)
        #expect(Self.failure(Launch.self, ["--hostfile", "/etc/hostname", "--host", "a", "--", "info"])?.contains("not both") == true)
        #expect(Self.failure(Launch.self, ["--host", "a,,b", "--", "info"])?.contains("--host") == true)
        #expect(Self.failure(Launch.self, ["--host", "a:2,b:2", "--", "info"]) == nil)
    }

    @Test("a dry run's command line is quoted for a shell")
    func shellQuoting() {
        #expect(Launch.shellQuoted("--lr=0.001") == "--lr=0.001")
        #expect(Launch.shellQuoted("two words") == "'two words'")
        #expect(Launch.shellQuoted("it's") == "'it'\\''s'")
        #expect(Launch.shellQuoted("") == "''")
    }
}

/// Whether a progress line is shown: only where a person watches.
struct ProgressModeTests {
    @Test("auto: launch decides, plain mpirun and srun never, a lone process checks its terminal")
    func auto() {
        let mode = ProgressMode.auto
        #expect(mode.showsProgress(environment: ["VAE_DIST_PROGRESS": "1", "OMPI_COMM_WORLD_SIZE": "2"], standardOutputIsTerminal: true))
        #expect(!mode.showsProgress(environment: ["VAE_DIST_PROGRESS": "0"], standardOutputIsTerminal: true))
        #expect(!mode.showsProgress(environment: ["OMPI_COMM_WORLD_SIZE": "2"], standardOutputIsTerminal: true))
        #expect(!mode.showsProgress(environment: ["SLURM_PROCID": "0"], standardOutputIsTerminal: true))
        #expect(mode.showsProgress(environment: [:], standardOutputIsTerminal: true))
        #expect(!mode.showsProgress(environment: [:], standardOutputIsTerminal: false))
    }

    @Test("always and never ignore the environment")
    func forced() {
        #expect(ProgressMode.always.showsProgress(environment: ["OMPI_COMM_WORLD_SIZE": "2"], standardOutputIsTerminal: false))
        #expect(!ProgressMode.never.showsProgress(environment: ["VAE_DIST_PROGRESS": "1"], standardOutputIsTerminal: true))
        #expect(CommandLineTests.failure(Train.self, ["--progress", "sometimes"])?.contains("sometimes") == true)
    }
}
