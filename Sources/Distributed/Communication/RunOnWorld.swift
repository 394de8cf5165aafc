#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Runs `body` with the world communicator and turns any thrown error into ONE line on standard error
/// and a non-zero exit of the WHOLE job. With more than one rank, the rank that cannot go on calls
/// `MPI_Abort`, so the others never wait forever in a collective. An `AgreedFailure`, raised by every rank
/// together, is printed once by rank 0 and ends every rank without an abort; so is a `StoppedBySignal`,
/// whose exit status is 128 + the signal (130 for SIGINT, 143 for SIGTERM).
public func runOnWorld(_ body: (MPICommunicator) throws -> Void) {
    let world: MPICommunicator
    do {
        world = try MPICommunicator.world
    } catch {
        printError("vae-dist: error: cannot start MPI: \(error)")
        exit(1)
    }
    do {
        try body(world)
    } catch let failure as AgreedFailure {
        if world.isRoot { printError("vae-dist: error: \(failure)") }
        exit(1)
    } catch let stopped as StoppedBySignal {
        if world.isRoot { printError("vae-dist: \(stopped)") }
        exitWithoutWaitingForMPI(code: 128 + stopped.signal)
    } catch {
        let prefix = world.size > 1
            ? "vae-dist: error (rank \(world.rank) of \(world.size) on \(localHostName())): " : "vae-dist: error: "
        if world.size > 1 {
            world.abort(message: prefix + "\(error)", code: 1)
        }
        printError(prefix + "\(error)")
        exit(1)
    }
}

/// Exits with `code`, finalizing MPI if that is quick. When `mpirun` itself was signalled it is tearing the
/// job down: `MPI_Finalize` then never returns, and the rank, which has already written its checkpoint and
/// said why it stops, would sit there until mpirun's SIGKILL turns its exit status into a kill. So a
/// detached thread ends the process after `grace` seconds whatever MPI is doing.
private func exitWithoutWaitingForMPI(code: Int32, grace: TimeInterval = 0.25) -> Never {
    fflush(nil)
    Thread.detachNewThread {
        Thread.sleep(forTimeInterval: grace)
        _exit(code)
    }
    exit(code)
}
