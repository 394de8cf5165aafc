#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// How a body run on the world communicator ended (`MPICommunicator.runOnWorld`): what the executable needs
/// to say what happened and to choose its exit status. The library itself prints nothing and never exits.
public enum WorldOutcome {
    /// The body returned.
    case completed
    /// MPI did not start; there is no world to abort.
    case cannotStart(any Error)
    /// Every rank raised the same failure at the same point: one rank (the root) should report it, and every
    /// rank can end without an abort because none is left waiting in a collective.
    case agreedFailure(AgreedFailure, world: MPICommunicator)
    /// Every rank stopped together after a stop signal, with a final checkpoint written: one rank (the root)
    /// should report it; `stopped.signal` gives the shell's exit status, 128 + the signal. mpirun may be
    /// tearing the job down, so end with `MPICommunicator.exitWithoutWaitingForMPI`.
    case stoppedBySignal(StoppedBySignal, world: MPICommunicator)
    /// This rank alone cannot go on while the others may wait for it in a collective: with more than one
    /// rank, end the whole job with `world.abort`, its message naming this rank and its host.
    case rankFailure(any Error, world: MPICommunicator)
}

extension MPICommunicator {
    /// Runs `body` with the world communicator (the first use initializes MPI) and says how it ended.
    public static func runOnWorld(_ body: (MPICommunicator) throws -> Void) -> WorldOutcome {
        let world: MPICommunicator
        do {
            world = try MPICommunicator.world
        } catch {
            return .cannotStart(error)
        }
        do {
            try body(world)
            return .completed
        } catch let failure as AgreedFailure {
            return .agreedFailure(failure, world: world)
        } catch let stopped as StoppedBySignal {
            return .stoppedBySignal(stopped, world: world)
        } catch {
            return .rankFailure(error, world: world)
        }
    }

    /// Exits with `code`, finalizing MPI if that is quick. When `mpirun` itself was signalled it is tearing the
    /// job down: `MPI_Finalize` then never returns, and the rank, which has already written its checkpoint and
    /// said why it stops, would sit there until mpirun's SIGKILL turns its exit status into a kill. So a
    /// detached thread ends the process after `grace` seconds whatever MPI is doing.
    public static func exitWithoutWaitingForMPI(code: Int32, grace: TimeInterval = 0.25) -> Never {
        fflush(nil)
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: grace)
            _exit(code)
        }
        exit(code)
    }
}
