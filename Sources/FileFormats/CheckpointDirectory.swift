import Foundation

/// A run directory's checkpoints: `checkpoint-000001200.vaeckpt` files (step number, zero-padded to 9 digits so
/// names sort by step) and a `latest` file naming the newest complete one, written atomically after it.
///
/// A crash at any moment leaves a loadable state: the checkpoint is complete before `latest` points to it, and
/// pruning never removes the file `latest` names. If `latest` is missing or names a damaged file, `newest()` falls
/// back to the highest-numbered checkpoint that verifies.
public struct CheckpointDirectory: Sendable {
    public let path: String
    public static let latestFileName = "latest"
    public static let fileExtension = "vaeckpt"

    public init(path: String) {
        self.path = path
    }

    /// `checkpoint-000001200.vaeckpt` for step 1200.
    public static func fileName(step: Int) -> String {
        precondition(step >= 0)
        let digits = String(step)
        return "checkpoint-" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits + "." + fileExtension
    }

    /// The step encoded in a checkpoint file name, or nil for other names.
    public static func step(fromFileName name: String) -> Int? {
        guard name.hasPrefix("checkpoint-"), name.hasSuffix("." + fileExtension) else { return nil }
        let digits = name.dropFirst("checkpoint-".count).dropLast(fileExtension.count + 1)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    /// Writes the checkpoint for `step`, points `latest` at it, then deletes all but the newest `keep` checkpoints.
    /// Returns the checkpoint's path. Creates the directory if needed.
    @discardableResult
    public func save<Metadata: Encodable>(
        metadata: Metadata, tensors: [CheckpointTensor], step: Int, keep: Int = 3
    ) throws -> String {
        try CheckpointFile.withViews(tensors[...], []) { try save(metadata: metadata, tensors: $0, step: step, keep: keep) }
    }

    /// Like `save(metadata:tensors:step:keep:)`, writing the tensors from where they live.
    @discardableResult
    public func save<Metadata: Encodable>(
        metadata: Metadata, tensors: [CheckpointTensorView], step: Int, keep: Int = 3
    ) throws -> String {
        precondition(keep >= 1, "keep at least one checkpoint")
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileFormatError(path, "cannot create run directory: \((error as NSError).localizedDescription)")
        }
        let name = Self.fileName(step: step)
        let file = path + "/" + name
        try CheckpointFile.write(metadata: metadata, tensors: tensors, to: file)
        try AtomicFile.write(Array((name + "\n").utf8), to: path + "/" + Self.latestFileName)
        try prune(keep: keep)
        return file
    }

    /// All checkpoint files by ascending step.
    public func checkpoints() throws -> [(step: Int, path: String)] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw FileFormatError(path, "cannot list run directory: \((error as NSError).localizedDescription)")
        }
        return names.compactMap { name in Self.step(fromFileName: name).map { (step: $0, path: path + "/" + name) } }
            .sorted { $0.step < $1.step }
    }

    /// The path of the newest complete checkpoint: the one `latest` names if it verifies, else the highest step
    /// that verifies; nil when there is none.
    public func newest() throws -> String? {
        if let pointer = try? String(contentsOfFile: path + "/" + Self.latestFileName, encoding: .utf8) {
            let name = pointer.trimmingCharacters(in: .whitespacesAndNewlines)
            if Self.step(fromFileName: name) != nil, (try? CheckpointFile.verify(path: path + "/" + name)) != nil {
                return path + "/" + name
            }
        }
        for candidate in try checkpoints().reversed() where (try? CheckpointFile.verify(path: candidate.path)) != nil {
            return candidate.path
        }
        return nil
    }

    /// What users may name as "a checkpoint": a checkpoint file, a run directory (its newest complete
    /// checkpoint) or `<run>/latest` (the same). A path that does not exist is returned as is, so reading it
    /// gives the reader's own error.
    public static func resolve(_ path: String) throws -> String {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let directory: String
        if exists && isDirectory.boolValue {
            directory = path
        } else if (path as NSString).lastPathComponent == latestFileName {
            let parent = (path as NSString).deletingLastPathComponent
            directory = parent.isEmpty ? "." : parent
        } else {
            return path
        }
        guard let newest = try CheckpointDirectory(path: directory).newest() else {
            throw FileFormatError(path, "the directory holds no complete checkpoint")
        }
        return newest
    }

    /// Deletes all but the newest `keep` checkpoints, never the one `latest` names. Also removes temporary files
    /// left by a crash in the middle of a write.
    public func prune(keep: Int) throws {
        let all = try checkpoints()
        let pointer = (try? String(contentsOfFile: path + "/" + Self.latestFileName, encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        for old in all.dropLast(keep) where !old.path.hasSuffix("/" + (pointer ?? "")) {
            unlink(old.path)
        }
        if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
            for name in names where name.hasPrefix(".checkpoint-") && name.contains(".tmp-") {
                unlink(path + "/" + name)
            }
        }
    }
}
