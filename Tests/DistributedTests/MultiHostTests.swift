import Foundation
import Testing
@testable import Distributed

/// Multi-host behaviour that does not need a second host: detecting one from the launcher's environment,
/// and the watchdog's message, which must name this rank's host and the hosts a missing rank may be on.
/// scripts/test-cluster runs the real thing on two network-namespace hosts.
struct MultiHostTests {
    @Test("the ranks span hosts when mpirun's local size is below the world size, or srun has several nodes")
    func spansHosts() {
        #expect(MultiHostDefaults.spansHosts(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"]))
        #expect(!MultiHostDefaults.spansHosts(["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "4"]))
        #expect(MultiHostDefaults.spansHosts(["SLURM_STEP_NUM_NODES": "2"]))
        #expect(!MultiHostDefaults.spansHosts(["SLURM_STEP_NUM_NODES": "1"]))
        #expect(!MultiHostDefaults.spansHosts([:]))
    }

    @Test("a stalled rank names itself and its host")
    func stalledMessage() throws {
        let watchdog = CollectiveWatchdog(timeout: 0, rank: 1, size: 2, host: "hostb", jobHosts: ["hosta", "hostb"]) {}
        watchdog.enter(.compute, step: 57)
        Thread.sleep(forTimeInterval: 0.01)
        let message = try #require(watchdog.overdueMessage())
        #expect(message.hasPrefix("vae-dist: error (rank 1 of 2 on hostb): stalled: forward/backward of global step 57"))
    }

    @Test("a rank waiting in a collective names the other hosts, at most three of them")
    func waitingMessage() throws {
        let hosts = ["a", "b", "c", "d", "e", "a"]
        let watchdog = CollectiveWatchdog(timeout: 0, rank: 0, size: 6, host: "a", jobHosts: hosts) {}
        watchdog.enter(.gradientExchange, step: 3)
        #expect(watchdog.overdueMessage() == nil, "a waiting rank allows itself a grace period")
        Thread.sleep(forTimeInterval: watchdog.grace + 0.05)
        let message = try #require(watchdog.overdueMessage())
        #expect(message.contains("rank 0 of 6 on a): no progress in the gradient exchange of global step 3"))
        #expect(message.contains("the link to its host (b, c, d and 1 more) or the host may be down"))
        let alone = CollectiveWatchdog(timeout: 0, rank: 0, size: 2, host: "a", jobHosts: ["a", "a"]) {}
        alone.enter(.gradientExchange, step: 3)
        Thread.sleep(forTimeInterval: alone.grace + 0.05)
        #expect(try #require(alone.overdueMessage()).contains("a rank never arrived (stopped or frozen)"))
    }

    @Test("a rank stopped by a signal while it waits in a collective says what it waited for, once it waited long")
    func stoppedWhileWaiting() throws {
        let watchdog = CollectiveWatchdog(timeout: 0, rank: 0, size: 2, host: "hosta", jobHosts: ["hosta", "hostb"],
                                          stopSignal: { 0 }) {}
        watchdog.enter(.gradientExchange, step: 57)
        #expect(watchdog.stoppedWhileWaitingMessage(signal: SIGTERM) == nil, "a wait of a moment is not worth a line")
        Thread.sleep(forTimeInterval: CollectiveWatchdog.waitWorthNaming(.gradientExchange) + 0.05)
        #expect(watchdog.stoppedWhileWaitingMessage(signal: 0) == nil, "no signal, no line")
        let message = try #require(watchdog.stoppedWhileWaitingMessage(signal: SIGTERM))
        #expect(message.hasPrefix("vae-dist: rank 0 of 2 on hosta, stopped by SIGTERM after waiting 1."))
        #expect(message.hasSuffix("s in the gradient exchange of global step 57 for the other ranks (on hostb)"))
        watchdog.enter(.epochCollectives, step: 58)
        Thread.sleep(forTimeInterval: CollectiveWatchdog.waitWorthNaming(.gradientExchange) + 0.05)
        #expect(watchdog.stoppedWhileWaitingMessage(signal: SIGINT) == nil, "waiting for rank 0's epoch end is normal")
        #expect(CollectiveWatchdog.waitWorthNaming(.epochCollectives) > CollectiveWatchdog.waitWorthNaming(.gradientExchange))
        watchdog.enter(.checkpoint, step: 58)
        Thread.sleep(forTimeInterval: CollectiveWatchdog.waitWorthNaming(.gradientExchange) + 0.05)
        #expect(watchdog.stoppedWhileWaitingMessage(signal: SIGINT) == nil, "rank 0 writing is not waiting")
    }

    @Test("around a checkpoint or an epoch end, rank 0's own writing stalls; the collectives wait with grace")
    func checkpointPhases() throws {
        let writer = CollectiveWatchdog(timeout: 0, rank: 0, size: 2, host: "a", jobHosts: ["a", "a"]) {}
        writer.enter(.checkpoint, step: 30)
        Thread.sleep(forTimeInterval: 0.01)
        #expect(try #require(writer.overdueMessage()).contains("stalled: checkpoint writing of global step 30"))
        for (phase, words) in [(CollectiveWatchdog.Phase.checkpointCollectives, "the checkpoint"),
                               (.epochCollectives, "the end-of-epoch collectives"),
                               // Every --log-every steps: a rank that never arrives is not this rank's stall.
                               (.stepLogAllreduce, "the loss-logging allreduce")] {
            let waiting = CollectiveWatchdog(timeout: 0, rank: 0, size: 2, host: "a", jobHosts: ["a", "a"]) {}
            waiting.enter(phase, step: 30)
            #expect(waiting.overdueMessage() == nil, "\(words): a waiting rank allows itself a grace period")
            Thread.sleep(forTimeInterval: waiting.grace + 0.05)
            #expect(try #require(waiting.overdueMessage()).contains("no progress in \(words) of global step 30"))
        }
    }
}
