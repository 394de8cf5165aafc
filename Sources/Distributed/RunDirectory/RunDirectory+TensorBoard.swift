import Foundation
import FileFormats

/// Rank 0's TensorBoard event file in the run directory: `tensorboard --logdir runs/` shows every run.
public final class TensorBoardWriter {
    public let path: String
    private let fd: Int32

    /// Starts a new event file in `directory`. A resumed run (`resumingAt`: the global step of its
    /// checkpoint) first cuts the run's earlier event files back to that step, so the steps the resumed
    /// run redoes appear once, as the run itself continues from the checkpoint.
    public init(directory: RunDirectory, resumingAt step: Int? = nil) throws {
        if let step { try Self.cut(directory, after: step) }
        if let problem = RunDirectory.makeDirectories(directory.path) {
            throw TrainingError("\(directory.path): cannot create the run directory (\(problem))")
        }
        let stamp = Int(Date().timeIntervalSince1970)
        path = directory.path + "/events.out.tfevents.\(stamp).\(localHostName()).\(getpid()).vae-dist"
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TrainingError("\(path): cannot create the TensorBoard event file: \(String(cString: strerror(errno)))") }
        try append(TensorBoardEvents.fileVersionRecord(wallTime: Date().timeIntervalSince1970))
    }

    deinit { close(fd) }

    /// Appends one event at `step`.
    public func write(step: Int, _ values: [TensorBoardEvents.Value]) throws {
        try append(TensorBoardEvents.eventRecord(step: step, wallTime: Date().timeIntervalSince1970, values: values))
    }

    private func append(_ record: [UInt8]) throws {
        let written = record.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == record.count else { throw TrainingError("\(path): write failed: \(String(cString: strerror(errno)))") }
    }

    /// Rewrites each event file of `directory` without its events after `step` (atomically; files with
    /// nothing to drop are left alone, damaged ones too).
    static func cut(_ directory: RunDirectory, after step: Int) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix("events.out.tfevents.") {
            let file = directory.path + "/" + name
            guard let bytes = try? InputFile.readAll(path: file, limit: 1 << 34),
                  let records = TensorBoardEvents.records(bytes) else { continue }
            let kept = records.enumerated().filter { $0.offset == 0 || TensorBoardEvents.step(ofEvent: $0.element) <= step }
            guard kept.count < records.count else { continue }
            try AtomicFile.write(kept.flatMap { TensorBoardEvents.record($0.element) }, to: file)
        }
    }
}

extension TensorBoardEvents {
    /// A PNG file as an image value (its size read from the IHDR chunk).
    static func image(tag: String, pngFile path: String) -> Value? {
        guard let png = try? InputFile.readAll(path: path, limit: 1 << 28), png.count > 26 else { return nil }
        func be32(_ at: Int) -> Int { Int(png[at]) << 24 | Int(png[at + 1]) << 16 | Int(png[at + 2]) << 8 | Int(png[at + 3]) }
        let channels = png[25] == 2 ? 3 : 1
        return .image(tag: tag, png: png, height: be32(20), width: be32(16), channels: channels)
    }
}
