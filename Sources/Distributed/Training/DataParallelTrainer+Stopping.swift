import Foundation

/// How a run ends early: the watchdog that aborts the job when a rank stalls, and the stop-signal protocol
/// that ends every rank after the same step with a checkpoint.
extension DataParallelTrainer {
    /// A watchdog over this rank's phases for `collectiveTimeout` seconds (none running when that is 0); when
    /// it fires it names this rank and its host and aborts the whole job.
    func startWatchdog() throws -> CollectiveWatchdog {
        let watched = UncheckedSendable(world)
        let hosts = try world.hostNames()
        return CollectiveWatchdog(timeout: collectiveTimeout, rank: world.rank, size: world.size, jobHosts: hosts) {
            watched.value.abort(message: nil, code: 1)
        }
    }

    /// One tiny allreduce per step makes every rank see a stop signal any rank received, so all stop after
    /// the same step; then a final checkpoint and `StoppedBySignal` (exit 128 + signal on every rank).
    func stopIfSignalled(_ watchdog: CollectiveWatchdog) throws {
        watchdog.enter(.controlAllreduce, step: globalStep)
        let mine = StopSignals.pending
        var flags: [Double] = [mine != 0 ? 1 : 0, mine == SIGINT ? 1 : 0]
        try world.allreduceSum(&flags)
        guard flags[0] > 0 else { return }
        // SIGINT only when every signalled rank got SIGINT (a terminal's Ctrl-C); otherwise SIGTERM.
        let signal = flags[1] == flags[0] ? SIGINT : SIGTERM
        try saveCheckpoint()
        let saved = runDirectory.map { "; checkpoint of step \(globalStep) written, continue with --resume \($0.path)" } ?? ""
        throw StoppedBySignal(signal: signal, "stopped by \(StopSignals.name(signal)) after global step \(globalStep) "
            + "(epoch \(epoch + 1), step \(stepInEpoch))" + saved)
    }
}

/// Lets the watchdog thread hold the communicator it aborts through (`abort` is safe from any thread).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
