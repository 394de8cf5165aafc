#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The signal (SIGINT or SIGTERM) that asked this process to stop, 0 if none. Written by the handler.
private let pendingStopSignal = Atomic<Int32>(0)

/// SIGINT/SIGTERM as a polite request: the handler only records the signal; the training loop looks at it
/// once per step, the ranks agree on it through a one-value allreduce, and all of them stop after the same
/// step, rank 0 writes a final checkpoint, and the job exits with 128 + the signal's number.
///
/// A second signal while the first is pending ends the process at once (the default action), so an
/// impatient Ctrl-C still works. A signalled `mpirun` sends every rank SIGCONT, SIGTERM
/// `odls_base_sigkill_timeout` seconds later and SIGKILL after as many again (Open MPI default: 1 s) — see
/// the README for raising it when checkpoints are large; Slurm waits `KillWait` (default 30 s). Meanwhile
/// mpirun tears the job down, so after stopping a rank does not wait for `MPI_Finalize`
/// (`MPICommunicator.exitWithoutWaitingForMPI`).
public enum StopSignals {
    /// Installs the handlers (idempotent).
    public static func install() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { received in
                if pendingStopSignal.load(ordering: .relaxed) != 0 {
                    signal(received, SIG_DFL)
                    raise(received)
                    return
                }
                pendingStopSignal.store(received, ordering: .relaxed)
            }
        }
    }

    /// The pending stop signal's number, or 0.
    public static var pending: Int32 { pendingStopSignal.load(ordering: .relaxed) }

    /// "SIGINT", "SIGTERM", or "signal N".
    public static func name(_ signalNumber: Int32) -> String {
        switch signalNumber {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(signalNumber)"
        }
    }
}

/// Every rank stopped together after a stop signal, with a final checkpoint written. The executable prints
/// the message once (rank 0) and exits every rank with `128 + signal`, the shell's convention (130, 143);
/// `MPICommunicator.runOnWorld` hands it over as `WorldOutcome.stoppedBySignal`.
public struct StoppedBySignal: Error, CustomStringConvertible {
    public let signal: Int32
    public let description: String
    public init(signal: Int32, _ description: String) {
        self.signal = signal
        self.description = description
    }
}
