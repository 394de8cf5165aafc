import ArgumentParser
import Distributed
import Foundation
import Model

/// `vae-dist eval`: the test-set loss of a checkpoint, computed by all ranks together.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test-set loss per example (reconstruction + KL, nats) of a checkpoint, over all ranks.",
        discussion: """
            Every rank evaluates its own slice of the test set, so the result is the same for any number of
            ranks; the noise is a function of --seed and the example, so it is deterministic.
            Examples:
              vae-dist eval --checkpoint runs/vae-fashion-mnist --dataset fashion-mnist
              vae-dist launch -n 4 -- eval --checkpoint runs/x/latest --dataset fashion-mnist --json
            """)

    @Option(help: "A checkpoint file, `<run>/latest`, or a run directory (its newest checkpoint).")
    var checkpoint: String
    @Option(help: "Seed of the evaluation noise (default: the training seed).")
    var seed: UInt64?
    @Flag(help: "Print one JSON object.")
    var json = false
    @OptionGroup var data: DataOptions

    func run() throws {
        runOnWorld { world in
            let dataset = try world.collectively { try data.load() }
            var bytes: [UInt8] = []
            var path = ""
            try world.collectively {
                path = try Sample.resolve(checkpoint)
                if world.isRoot { bytes = try CheckpointFile.readBytes(path: path) }
            }
            try world.broadcast(bytes: &bytes, root: 0)
            let (network, parameters) = try world.collectively {
                let loaded = try TrainingCheckpoint(bytes: bytes, path: path)
                guard loaded.metadata.imageRows * loaded.metadata.imageCols == dataset.test.featureCount else {
                    throw TrainingError("\(path): trained on \(loaded.metadata.imageRows)×\(loaded.metadata.imageCols) images, but \(dataset.name) has \(dataset.test.images.rows)×\(dataset.test.images.cols)")
                }
                return try loaded.restoreNetwork(seed: seed)
            }
            let loss = try DistributedEvaluator(network: network, parameters: parameters, world: world).meanLoss(on: dataset.test)
            guard world.isRoot else { return }
            if json {
                print(#"{"checkpoint":"\#(path)","dataset":"\#(dataset.name)","examples":\#(dataset.test.count),"ranks":\#(world.size),"loss":\#(loss.total),"reconstruction":\#(loss.reconstruction),"kl":\#(loss.kl)}"#)
            } else {
                print(String(format: "test loss %.4f nats per example (reconstruction %.4f + KL %.4f) on %d %@ test images, %d rank(s)",
                             loss.total, loss.reconstruction, loss.kl, dataset.test.count, dataset.name, world.size))
            }
        }
    }
}
