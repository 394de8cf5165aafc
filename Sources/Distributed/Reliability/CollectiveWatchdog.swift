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
/// When mpirun or Slurm ends the job first (their keep-alive notices a silent host within seconds, long
/// before a default timeout), the rank they stop while it waits in a collective says what it waited for
/// (`stoppedWhileWaitingMessage`), so the user learns the step and the collective that never finished.
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
        /// The allreduce of a step's loss sums for the TensorBoard log (every `--log-every` steps).
        case stepLogAllreduce

        var isCollective: Bool {
            switch self {
            case .gradientExchange, .controlAllreduce, .replicaCheck, .checkpointCollectives, .epochCollectives,
                 .stepLogAllreduce: true
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
            case .stepLogAllreduce: "the loss-logging allreduce"
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
    private let stopSignal: @Sendable () -> Int32

    /// Seconds a collective must have waited when a stop signal is pending for this rank to say what it waits
    /// for. When a host vanishes, mpirun's keep-alive (about 11 s of silence with the launcher's settings) or
    /// Slurm usually ends the job long before `timeout`: the ranks get SIGTERM, then SIGKILL, and this line is
    /// what tells the user which step and which collective never finished. The collectives of every step wait
    /// milliseconds when all is well; those around a checkpoint or an epoch's end wait for rank 0's writing,
    /// so a Ctrl-C there is not worth a line unless the wait is long.
    static func waitWorthNaming(_ phase: Phase) -> Double {
        switch phase {
        case .checkpointCollectives, .epochCollectives: 10
        default: 1
        }
    }

    /// Starts the watchdog thread; `timeout` ≤ 0 starts none (the watchdog then only records phases).
    /// `abort` should end the whole job (e.g. `MPI_Abort`); the message is already printed when it is called.
    /// `stopSignal` reads the pending stop signal (0: none); tests pass their own.
    public init(timeout: Double, rank: Int, size: Int, host: String = localHostName(), jobHosts: [String] = [],
                stopSignal: @escaping @Sendable () -> Int32 = { StopSignals.pending },
                abort: @escaping @Sendable () -> Void) {
        self.timeout = timeout
        self.rank = rank
        self.size = size
        self.host = host
        self.stopSignal = stopSignal
        var seen = Set([host])
        otherHosts = jobHosts.filter { seen.insert($0).inserted }
        let poll = min(1.0, timeout / 4)
        grace = 2 * poll + 1
        guard timeout > 0 else { return }
        Thread.detachNewThread { [self] in
            // Short naps, so a stop signal is noticed within 0.1 s (mpirun sends SIGKILL 1 s after SIGTERM);
            // the overdue check itself runs once every `poll`.
            let nap = min(poll, 0.1)
            var lastNap = DispatchTime.now().uptimeNanoseconds
            var lastLook = lastNap
            var toldWhyStopped = false
            while running.load(ordering: .relaxed) {
                Thread.sleep(forTimeInterval: nap)
                // A nap much longer than planned means this whole process was frozen (SIGSTOP, a suspended VM):
                // then this rank is the one the others waited for, and they report it; do not blame the phase.
                let now = DispatchTime.now().uptimeNanoseconds
                defer { lastNap = now }
                if Double(now - lastNap) / 1e9 > nap + 1 { lastLook = now; continue }
                if !toldWhyStopped, let message = stoppedWhileWaitingMessage(signal: stopSignal()) {
                    printError(message)
                    toldWhyStopped = true
                }
                guard Double(now - lastLook) / 1e9 >= poll else { continue }
                lastLook = now
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
        guard let (phase, step, seconds) = currentPhase() else { return nil }
        let allowed = phase.isCollective ? timeout + grace : timeout
        guard seconds > allowed else { return nil }
        let limit = "; ending the job (--collective-timeout \(formatSeconds(timeout)))"
        if phase.isCollective {
            return "vae-dist: error (\(whoAmI)): " + waitingWords(phase, step: step, seconds: seconds) + limit
        }
        return "vae-dist: error (\(whoAmI)): stalled: \(phase.words) of global step \(step) has run for "
            + "\(formatSeconds(seconds)) s while the other ranks wait for this rank" + limit
    }

    /// The line to print when a stop signal is pending while this rank has waited in a collective for at least
    /// `waitWorthNaming(phase)` seconds (or the timeout, if shorter); nil otherwise. It states what was pending, not
    /// why: the stop may be a user's, and mpirun's own banner says when it lost a host.
    func stoppedWhileWaitingMessage(signal: Int32) -> String? {
        guard signal != 0, let (phase, step, seconds) = currentPhase(), phase.isCollective,
              seconds >= min(Self.waitWorthNaming(phase), timeout > 0 ? timeout : .infinity) else { return nil }
        let others = otherHosts.isEmpty ? "" : " (on " + hostList + ")"
        return "vae-dist: \(whoAmI), stopped by \(StopSignals.name(signal)) after waiting "
            + "\(formatSeconds(seconds)) s in \(phase.words) of global step \(step) for the other ranks" + others
    }

    /// The current phase (never idle), its global step and the seconds it has lasted; nil when idle or when
    /// the phase changed while it was read.
    private func currentPhase() -> (Phase, step: UInt64, seconds: Double)? {
        let start = since.load(ordering: .relaxed)
        let current = state.load(ordering: .relaxed)
        guard let phase = Phase(rawValue: current & 0xff), phase != .idle else { return nil }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e9
        // A phase change between the two loads would pair a new phase with an old time: look again next time.
        guard start == since.load(ordering: .relaxed), seconds < 1e9 else { return nil }
        return (phase, current >> 8, seconds)
    }

    private var whoAmI: String { "rank \(rank) of \(size) on \(host)" }

    /// The other hosts, at most three named: "b, c, d and 1 more".
    private var hostList: String {
        otherHosts.count <= 3 ? otherHosts.joined(separator: ", ")
            : otherHosts.prefix(3).joined(separator: ", ") + " and \(otherHosts.count - 3) more"
    }

    /// "no progress in the gradient exchange of global step 57 for 11.2 s: a rank never arrived: ...".
    private func waitingWords(_ phase: Phase, step: UInt64, seconds: Double) -> String {
        let cause = otherHosts.isEmpty ? "a rank never arrived (stopped or frozen)"
            : "a rank never arrived: stopped or frozen, or the link to its host (\(hostList)) or the host may be down"
        return "no progress in \(phase.words) of global step \(step) for \(formatSeconds(seconds)) s: " + cause
    }

    private func formatSeconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}
