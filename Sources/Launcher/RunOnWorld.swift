#if canImport(Glibc)
import Glibc
#endif
import Distributed

/// Runs `body` with the world communicator and turns any thrown error into ONE line on standard error
/// and a non-zero exit of the WHOLE job. With more than one rank, the rank that cannot go on calls
/// `MPI_Abort`, so the others never wait forever in a collective. An `AgreedFailure`, raised by every rank
/// together, is printed once by rank 0 and ends every rank without an abort; so is a `StoppedBySignal`,
/// whose exit status is 128 + the signal (130 for SIGINT, 143 for SIGTERM).
func runOnWorld(_ body: (MPICommunicator) throws -> Void) {
    switch MPICommunicator.runOnWorld(body) {
    case .completed:
        return
    case .cannotStart(let error):
        printError("vae-dist: error: cannot start MPI: \(error)")
        exit(1)
    case .agreedFailure(let failure, let world):
        if world.isRoot { printError("vae-dist: error: \(failure)") }
        exit(1)
    case .stoppedBySignal(let stopped, let world):
        if world.isRoot { printError("vae-dist: \(stopped)") }
        MPICommunicator.exitWithoutWaitingForMPI(code: 128 + stopped.signal)
    case .rankFailure(let error, let world):
        let prefix = world.size > 1
            ? "vae-dist: error (rank \(world.rank) of \(world.size) on \(localHostName())): " : "vae-dist: error: "
        if world.size > 1 {
            world.abort(message: prefix + "\(error)", code: 1)
        }
        printError(prefix + "\(error)")
        exit(1)
    }
}
