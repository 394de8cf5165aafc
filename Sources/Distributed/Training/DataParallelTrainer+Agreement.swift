import Foundation
import Model

/// Ranks that must agree: on the configuration and data at start, on the parameters while training (replica
/// checksums); and the test-only faults that check the failure paths.
extension DataParallelTrainer {
    /// Every rank contributes `hash`; a rank that differs from rank 0 is named, and all ranks fail together.
    static func requireAgreement(_ hash: UInt64, what: String, world: any Communicator) throws {
        let odd = try world.ranksDisagreeing(with: hash)
        guard odd.isEmpty else {
            throw AgreedFailure("\(Self.ranksWord(odd)) started with a different \(what) than rank 0; "
                + "every rank must run the same command on the same data")
        }
    }

    /// The parameter checksum of every rank compared with rank 0's: replicas must stay bit-identical, so a
    /// rank whose parameters drifted (a memory fault, a non-deterministic kernel) is named and all ranks stop.
    /// With a node-shared exchange there is one copy and nothing to compare.
    public func verifyReplicasInSync() throws {
        guard exchange.hasReplicas else { return }
        let odd = try world.ranksDisagreeing(with: parameters.checksum())
        guard odd.isEmpty else {
            throw AgreedFailure("the parameters of \(Self.ranksWord(odd)) drifted from rank 0's (checksum differs after "
                + "global step \(globalStep)); replicas must stay bit-identical, stopping"
                + (runDirectory.map { ". Resume from the last checkpoint in \($0.path)" } ?? ""))
        }
    }

    static func ranksWord(_ ranks: [Int]) -> String {
        "rank\(ranks.count == 1 ? "" : "s") " + ranks.map(String.init).joined(separator: ", ")
    }

    /// Test-only faults due before the forward/backward of `step`.
    func injectBeforeStep(_ fault: FaultInjection, step: Int) throws {
        if fault.applies(.stall, rank: world.rank, step: step) || fault.applies(.slow, rank: world.rank, step: step) {
            Thread.sleep(forTimeInterval: fault.seconds)
        }
        if fault.applies(.sigterm, rank: world.rank, step: step) { raise(SIGTERM) }
        if fault.applies(.sigint, rank: world.rank, step: step) { raise(SIGINT) }
    }
}
