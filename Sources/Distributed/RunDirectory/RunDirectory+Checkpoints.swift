import Foundation
import Model
import FileFormats

extension RunDirectory {
    /// Collective: resolves `requested` (a checkpoint file, a run directory, or its `latest`), rank 0 reads
    /// the file and broadcasts its bytes, and every rank decodes them. Every rank gets the same checkpoint,
    /// or the same one-line error.
    public static func readCheckpoint(_ requested: String, world: any Communicator) throws -> (path: String, checkpoint: TrainingCheckpoint) {
        var path = ""
        var bytes: [UInt8] = []
        try world.collectively {
            path = try CheckpointDirectory.resolve(requested)
            if world.isRoot { bytes = try CheckpointFile.readBytes(path: path) }
        }
        try world.broadcast(bytes: &bytes, root: 0)
        let checkpoint = try world.collectively { [path] in try TrainingCheckpoint(bytes: bytes, path: path) }
        return (path, checkpoint)
    }

    /// Rank 0: writes the checkpoint of `metadata.globalStep` straight from the parameter and moment
    /// buffers (streamed, atomic), points `latest` at it and keeps the newest `keep`. A failure names the
    /// checkpoint that is still intact.
    func saveCheckpoint(metadata: TrainingCheckpointMetadata, parameters: FlatBuffer, adam: Adam, keep: Int) throws {
        func view(_ name: String, _ buffer: FlatBuffer) -> CheckpointTensorView {
            CheckpointTensorView(name: name, values: UnsafeBufferPointer(start: buffer.baseAddress, count: buffer.count))
        }
        do {
            _ = try withExtendedLifetime((parameters, adam)) {
                try checkpoints.save(
                    metadata: metadata,
                    tensors: [view(CheckpointTensorName.parameters, parameters),
                              view(CheckpointTensorName.adamFirstMoment, adam.firstMoment),
                              view(CheckpointTensorName.adamSecondMoment, adam.secondMoment)],
                    step: metadata.globalStep, keep: keep)
            }
        } catch {
            let previous = (try? checkpoints.newest()).flatMap { $0 }
            throw TrainingError("cannot save the checkpoint of global step \(metadata.globalStep): \(error)"
                + (previous.map { "; the previous checkpoint is intact: \($0)" } ?? ""))
        }
    }
}
