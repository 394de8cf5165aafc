import Foundation
import Synchronization

/// A per-rank watchdog thread that ends the whole job when training stops making progress.
///
/// A rank that stalls (a hung disk, a debugger, a runaway loop) leaves every other rank waiting in the
/// next collective forever: MPI has no timeout. The training loop tells the watchdog which phase of which
/// step it is in (two relaxed atomic stores, nanoseconds); a background thread looks once every
/// `pollInterval` and, when one phase has lasted longer than `timeout`, writes one line naming this rank,
/// its host, the phase and the step to standard error (unbuffered, before anything else can go wrong) and
/// calls `abort`, which asks MPI to end every rank.
///
/// The stalled rank names itself: it entered its stuck phase (outside any collective) before the others
/// began waiting for it, and waiting ranks allow themselves `grace` more, so its own watchdog fires first.
/// A rank that cannot run at all (stopped with SIGSTOP, its host frozen, its link down) is reported by the
/// waiting ranks instead: "no progress in the gradient exchange ...; the link or the host may be down".
///
/// `MPI_Abort` itself can hang when a host it must reach is gone; `MPICommunicator.abort` then leaves by
/// itself a few seconds later, so every rank (the one that noticed and the ones cut off with it) ends within
/// the timeout plus a few seconds, and `mpirun` (whose keep-alive settings the launcher sets for multi-host
/// runs) or Slurm ends the job.
public final class CollectiveWatchdog: @unchecked Sendable {
    /// What the training loop is doing. Collectives are the phases where a rank waits for the others.
    public enum Phase: UInt64, Sendable {
        case idle = 0
        case compute, gradientExchange, controlAllreduce, replicaCheck, checkpoint, epochEnd
        /// Waiting for the other ranks around a checkpoint (its loss sums, or rank 0 writing it).
        case checkpointCollectives
        /// Waiting for the other ranks at the end of an epoch (loss sums, test loss, rank 0's outputs).
        case epochCollectives

        var isCollective: Bool {
            switch self {
            case .gradientExchange, .controlAllreduce, .replicaCheck, .checkpointCollectives, .epochCollectives: true
            case .idle, .compute, .checkpoint, .epochEnd: false
            }
        }

        var words: String {
            switch self {
            case .idle: "idle"
            case .compute: "forward/backward"
            case .gradientExchange: "the gradient exchange"
            case .controlAllreduce: "the stop-flag allreduce"
            case .replicaCheck: "the replica checksum allgather"
            case .checkpoint: "checkpoint writing"
            case .epochEnd: "end-of-epoch evaluation and images"
            case .checkpointCollectives: "the checkpoint"
            case .epochCollectives: "the end-of-epoch collectives"
            }
        }
    }

    public let timeout: Double
    /// Extra seconds a rank waiting in a collective allows, so a live stalled rank reports itself first.
    public let grace: Double
    /// Phase in the low 8 bits, global step above.
    private let state = Atomic<UInt64>(0)
    /// `DispatchTime` uptime (ns) when the current phase began.
    private let since = Atomic<UInt64>(0)
    private let running = Atomic<Bool>(true)
    private let rank: Int
    private let size: Int
    private let host: String
    /// The job's hosts other than this one, named when a collective stalls.
    private let otherHosts: [String]

    /// Starts the watchdog thread; `timeout` ≤ 0 starts none (the watchdog then only records phases).
    /// `abort` should end the whole job (e.g. `MPI_Abort`); the message is already printed when it is called.
    public init(timeout: Double, rank: Int, size: Int, host: String = localHostName(), jobHosts: [String] = [],
                abort: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.rank = rank
        self.size = size
        self.host = host
        var seen = Set([host])
        otherHosts = jobHosts.filter { seen.insert($0).inserted }
        let poll = min(1.0, timeout / 4)
        grace = 2 * poll + 1
        guard timeout > 0 else { return }
        Thread.detachNewThread { [self] in
            var lastLook = DispatchTime.now().uptimeNanoseconds
            while running.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: poll)
                // A look much later than planned means this whole process was frozen (SIGSTOP, a suspended VM):
                // then this rank is the one the others waited for, and they report it; do not blame the phase.
                let now = DispatchTime.now().uptimeNanoseconds
                defer { lastLook = now }
                if Double(now - lastLook) / 1e9 > poll + 1 { continue }
                if let message = overdueMessage() {
                    printError(message)
                    abort()
                    return
                }
            }
        }
    }

    deinit { stop() }

    /// Marks the start of `phase` during global step `step` (1-based: the step being run).
    @inline(__always)
    public func enter(_ phase: Phase, step: Int) {
        since.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
        state.store(UInt64(step) << 8 | phase.rawValue, ordering: .relaxed)
    }

    /// Ends the watch (the thread exits at its next look).
    public func stop() {
        state.store(0, ordering: .relaxed)
        running.store(false, ordering: .relaxed)
    }

    /// The message to abort with, or nil while everything is on time.
    func overdueMessage() -> String? {
        let start = since.load(ordering: .relaxed)
        let current = state.load(ordering: .relaxed)
        guard let phase = Phase(rawValue: current & 0xff), phase != .idle else { return nil }
        let now = DispatchTime.now().uptimeNanoseconds
        let seconds = Double(now &- start) / 1e9
        // A phase change between the two loads would pair a new phase with an old time: look again next time.
        let allowed = phase.isCollective ? timeout + grace : timeout
        guard start == since.load(ordering: .relaxed), seconds > allowed, seconds < 1e9 else { return nil }
        let step = current >> 8
        let who = "vae-dist: error (rank \(rank) of \(size) on \(host)): "
        let limit = "; ending the job (--collective-timeout \(formatSeconds(timeout)))"
        if phase.isCollective {
            let hosts = otherHosts.count <= 3 ? otherHosts.joined(separator: ", ")
                : otherHosts.prefix(3).joined(separator: ", ") + " and \(otherHosts.count - 3) more"
            let cause = otherHosts.isEmpty ? "a rank never arrived (stopped or frozen)"
                : "a rank never arrived: stopped or frozen, or the link to its host (\(hosts)) or the host may be down"
            return who + "no progress in \(phase.words) of global step \(step) for \(formatSeconds(seconds)) s: "
                + cause + limit
        }
        return who + "stalled: \(phase.words) of global step \(step) has run for \(formatSeconds(seconds)) s "
            + "while the other ranks wait for this rank" + limit
    }

    private func formatSeconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
