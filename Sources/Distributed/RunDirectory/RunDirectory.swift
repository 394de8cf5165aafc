import Foundation
import Model
import FileFormats

/// A training run on disk, and the one owner of everything in it: choosing and creating the directory
/// (rank 0 picks, every rank learns the same path), its checkpoints (saved streamed and atomically by
/// rank 0; read by rank 0 and broadcast, so other hosts need not see the same file system),
/// `metrics.jsonl`, the per-epoch images, the figures and an experiment's report.
///
/// ```
/// runs/vae-fashion-mnist-20261201-020304/
///   checkpoint-000000468.vaeckpt   latest   metrics.jsonl   samples-epoch-001.png   reconstructions-epoch-001.png
/// ```
public struct RunDirectory: Sendable, Equatable, CustomStringConvertible {
    public let path: String

    /// The path, so a message that interpolates the directory shows where it is.
    public var description: String { path }

    public init(path: String) { self.path = path }

    /// Collective: rank 0 takes `requested`, or else `defaultPath()`, creates it and proves a file can be
    /// written there; every rank returns the same directory, or the same error (a bad `--out` fails before
    /// anyone trains).
    public static func establish(_ requested: String?, default defaultPath: () -> String,
                                 world: any Communicator) throws -> RunDirectory {
        var bytes: [UInt8] = world.isRoot ? Array((requested ?? defaultPath()).utf8) : []
        try world.broadcast(bytes: &bytes, root: 0)
        let directory = RunDirectory(path: String(decoding: bytes, as: UTF8.self))
        try world.collectively { if world.isRoot { try directory.requireWritable() } }
        return directory
    }

    /// `runs/<model>-<data set>-<yyyyMMdd-HHmmss>`.
    public static func defaultPath(model: String, dataset: String) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let name = (dataset as NSString).lastPathComponent
        return "runs/\(model)-\(name)-\(formatter.string(from: Date()))"
    }

    /// The run directory a path names: the path itself when it is a directory, else the directory of the
    /// checkpoint file (or `latest` pointer) it names.
    public static func containing(_ checkpointOrDirectory: String) -> RunDirectory {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: checkpointOrDirectory, isDirectory: &isDirectory), isDirectory.boolValue {
            return RunDirectory(path: checkpointOrDirectory)
        }
        let parent = (checkpointOrDirectory as NSString).deletingLastPathComponent
        return RunDirectory(path: parent.isEmpty ? "." : parent)
    }

    /// The checkpoint files in this directory.
    public var checkpoints: CheckpointDirectory { CheckpointDirectory(path: path) }

    /// Creates the directory and proves a file can be written there.
    func requireWritable() throws {
        if let problem = Self.makeDirectories(path) {
            throw TrainingError("--out \(path): cannot create the run directory (\(problem))")
        }
        let probe = path + "/.write-test-\(getpid())"
        guard FileManager.default.createFile(atPath: probe, contents: Data("ok".utf8)) else {
            throw TrainingError("--out \(path): the run directory is not writable")
        }
        try? FileManager.default.removeItem(atPath: probe)
    }

    /// `mkdir -p` one component at a time, so a failure names the component and the system's reason
    /// (Foundation's error for a path under a regular file is "NSCocoaErrorDomain error 512"). Nil on success.
    static func makeDirectories(_ path: String) -> String? {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o777) == 0 { continue }
            let error = errno
            var status = stat()
            if error == EEXIST && stat(prefix, &status) == 0 {
                if status.st_mode & S_IFMT == S_IFDIR { continue }
                return "\(prefix) is a file, not a directory"
            }
            return "\(prefix): \(String(cString: strerror(error)))"
        }
        return nil
    }
}
