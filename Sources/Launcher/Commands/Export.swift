import ArgumentParser
import Distributed
import FileFormats
import Foundation
import Model

/// `vae-dist export`: a checkpoint's weights as a safetensors file that PyTorch loads.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a checkpoint's weights as safetensors, with PyTorch's names and shapes.",
        discussion: """
            Weights become `<layer>.weight` [out, in] and `<layer>.bias` [out], as torch.nn.Linear holds them.
            The classic VAE takes the names of PyTorch's examples/vae model (fc1, fc21, fc22, fc3, fc4), so
              model.load_state_dict(safetensors.torch.load_file("model.safetensors"), strict=True)
            works; other models keep vae-dist's layer names (encoder.0, ..., decoder.0, ..., tower.0, ...).
            The run's flags are in the file's __metadata__. `train --init-from` reads such a file back.
            Example:
              vae-dist export --checkpoint runs/vae-fashion-mnist --out model.safetensors
            """)

    @Option(help: "A checkpoint file, `<run>/latest`, or a run directory (its newest checkpoint).")
    var checkpoint: String

    @Option(help: "The safetensors file to write.")
    var out: String

    func run() throws {
        let loaded = try TrainingCheckpoint(resolving: checkpoint)
        let path = loaded.path
        let (network, parameters) = try loaded.restoreNetwork()
        let metadata = [
            "format": "vae-dist",
            "model": network.spec.kind.rawValue,
            "architecture": "\(network.spec.architecture)",
            "flags": loaded.metadata.config.flagsDescription,
            "global_step": "\(loaded.metadata.globalStep)",
            "checkpoint": path,
        ]
        let tensors = PyTorchWeights.tensors(of: network, parameters: parameters)
        try SafeTensors.write(tensors, metadata: metadata, to: out)
        print("vae-dist: wrote \(tensors.count) tensors (\(parameters.count) parameters) to \(out): "
            + tensors.map { "\($0.name) \($0.shape)" }.joined(separator: ", "))
    }
}
