import Testing
@testable import Launcher

/// What `launch` adds for jobs on several hosts: keep-alive settings the user can override, and the
/// supervisor's recognition of a rank's error line in standard error however it is split into reads.
struct MultiHostLaunchTests {
    @Test("keep-alive settings are added unless the user set them on the command line or in the environment")
    func keepAlive() {
        let all = Launch.keepAliveArguments(besides: [], environment: [:])
        #expect(all == ["--mca", "oob_tcp_keepalive_time", "5", "--mca", "oob_tcp_keepalive_intvl", "2",
                        "--mca", "oob_tcp_keepalive_probes", "3"])
        let userTime = Launch.keepAliveArguments(besides: ["--mca", "oob_tcp_keepalive_time", "60"], environment: [:])
        #expect(!userTime.contains("oob_tcp_keepalive_time") && userTime.contains("oob_tcp_keepalive_probes"))
        let fromEnvironment = Launch.keepAliveArguments(besides: [], environment: ["OMPI_MCA_oob_tcp_keepalive_probes": "9"])
        #expect(!fromEnvironment.contains("oob_tcp_keepalive_probes") && fromEnvironment.count == 6)
    }

    @Test("a rank's error line is found wherever the reads split it, and only at the start of a line")
    func rankErrorLines() {
        let text = Array("mpirun noise\nvae-dist: error (rank 0 of 2 on a): no progress ...\n".utf8)
        for split in 0...text.count {
            var scanner = LineScanner()
            let first = scanner.containsRankError(text[..<split])
            let second = scanner.containsRankError(text[split...])
            #expect(first || second, "split at \(split)")
            #expect(!(first && second), "one line found once (split at \(split))")
        }
        var scanner = LineScanner()
        let quoted = scanner.containsRankError(Array("echo: vae-dist: error (rank 0 of 2): quoted\n".utf8)[...])
        let oneRank = scanner.containsRankError(Array("vae-dist: error: one rank, no job to end\n".utf8)[...])
        #expect(!quoted && !oneRank)
    }
}
