// Checks that need several real ranks. scripts/test runs this under `mpirun -np 2` and `-np 4`
// (oversubscribed on 2 cores). Every rank runs every check; failures are summed over ranks and rank 0
// prints the verdict, ending with "N passed, M failed". Exit status is non-zero if any rank failed.
//
//   multirank-tests                 run the collective checks
//   multirank-tests fail-on-rank R  rank R throws while the others wait in a barrier: the job must end
//                                   non-zero within seconds (scripts/test measures how long it takes)
import Distributed
import Foundation

/// Runs `body` on the world; any error ends the whole job with a non-zero status. A rank that fails alone
/// aborts the others, which may be waiting for it in a collective (what `fail-on-rank` checks).
func runOnWorld(_ body: (MPICommunicator) throws -> Void) {
    switch MPICommunicator.runOnWorld(body) {
    case .completed:
        return
    case .rankFailure(let error, let world) where world.size > 1:
        world.abort(message: "multirank-tests: error (rank \(world.rank) of \(world.size)): \(error)", code: 1)
    case .cannotStart(let error), .rankFailure(let error, _):
        printError("multirank-tests: error: \(error)")
    case .agreedFailure(let failure, let world):
        if world.isRoot { printError("multirank-tests: error: \(failure)") }
    case .stoppedBySignal(let stopped, let world):
        if world.isRoot { printError("multirank-tests: \(stopped)") }
    }
    exit(1)
}

let arguments = Array(CommandLine.arguments.dropFirst())

if arguments.first == "fail-on-rank" {
    let failing = arguments.count > 1 ? Int(arguments[1]) ?? 1 : 1
    runOnWorld { world in
        if world.rank == failing {
            Thread.sleep(forTimeInterval: 0.5)
            throw CommunicatorError("deliberate failure on rank \(failing) to test that the job ends")
        }
        try world.barrier()  // the failing rank never arrives; MPI_Abort must end this wait
        print("rank \(world.rank) passed a barrier it should never have passed")
    }
    exit(0)
}

runOnWorld { world in
    let checks = MultiRankChecks(world: world)
    checks.run()
    var counts: [Double] = [Double(checks.passed), Double(checks.failed)]
    try world.allreduceSum(&counts)
    if world.isRoot {
        print("multirank-tests np=\(world.size): \(Int(counts[0])) passed, \(Int(counts[1])) failed")
    }
    if counts[1] > 0 { exit(1) }
}
