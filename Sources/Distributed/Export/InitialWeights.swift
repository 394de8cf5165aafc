import FileFormats
import Model

/// Weights to start training from (`train --init-from`): a safetensors file written by `vae-dist export`
/// or by PyTorch (`safetensors.torch.save_file(model.state_dict(), ...)`), named as `PyTorchWeights` says.
public struct InitialWeights: Sendable {
    public let path: String
    public let contents: SafeTensors.Contents

    /// Collective: rank 0 reads `path` and broadcasts its bytes (other hosts need not see the file);
    /// every rank decodes them, and fails alike on a bad file.
    public static func read(_ path: String, world: any Communicator) throws -> InitialWeights {
        var bytes = try world.collectively { world.isRoot ? try InputFile.readAll(path: path, limit: SafeTensors.maxFileBytes) : [] }
        try world.broadcast(bytes: &bytes, root: 0)
        let contents = try world.collectively { try SafeTensors.decode(bytes, path: path) }
        return InitialWeights(path: path, contents: contents)
    }
}
