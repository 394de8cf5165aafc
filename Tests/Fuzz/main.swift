// fuzz-readers: feeds mutated IDX (raw and gzip), checkpoint and safetensors files to the real readers, in process, for a
// bounded number of iterations or seconds. Every input must be accepted or refused with a thrown one-line
// error; a crash (the process dies), a hang (the caller's timeout) or an allocation sized by an unchecked
// field (the caller's `ulimit -v`, and the peak RSS printed at the end) is a failure. scripts/test-fuzz runs it.
//
//   fuzz-readers SEED_DIR WORK_DIR [--iterations N] [--seconds S] [--seed X]
//
// SEED_DIR holds valid IDX files (raw or .gz) to mutate; a valid training checkpoint is made here.
import Distributed
import Foundation
import Model
import FileFormats
import Datasets

var arguments = Array(CommandLine.arguments.dropFirst())
@MainActor func option(_ name: String, _ fallback: Double) -> Double {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Double(arguments[index + 1]) else { return fallback }
    arguments.removeSubrange(index...index + 1)
    return value
}
let iterationLimit = Int(option("--iterations", 1_000_000))
let secondsLimit = option("--seconds", 60)
var rng = SplitMix64(seed: UInt64(option("--seed", Double(UInt32.random(in: 0...UInt32.max)))))
guard arguments.count == 2 else {
    print("usage: fuzz-readers SEED_DIR WORK_DIR [--iterations N] [--seconds S] [--seed X]")
    exit(2)
}
let seedDirectory = arguments[0], workDirectory = arguments[1]


/// CRC-32 (the checkpoint trailer's polynomial), so some mutants are re-sealed and reach the deeper checks.
@MainActor func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
    }
    return ~crc
}

/// Fixes a checkpoint's length field and trailing CRC after a mutation.
@MainActor func reseal(_ bytes: inout [UInt8]) {
    guard bytes.count >= 28 else { return }
    withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { bytes.replaceSubrange(12..<20, with: $0) }
    let crc = crc32(bytes[0..<bytes.count - 4])
    withUnsafeBytes(of: crc.littleEndian) { bytes.replaceSubrange(bytes.count - 4..<bytes.count, with: $0) }
}

/// One random damage: bit flips, truncation, insertion, deletion, or a header word overwritten with a huge value.
@MainActor func mutate(_ original: [UInt8], headerWords: Int, bigEndian: Bool) -> [UInt8] {
    var bytes = original
    for _ in 0...rng.below(3) {
        switch rng.below(6) {
        case 0:  // bit flips
            for _ in 0...rng.below(8) where !bytes.isEmpty { bytes[rng.below(bytes.count)] ^= UInt8(1) << UInt8(rng.below(8)) }
        case 1:  // truncate
            bytes.removeLast(rng.below(bytes.count + 1))
        case 2:  // insert random bytes
            let insert = (0..<rng.below(64) + 1).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.insert(contentsOf: insert, at: rng.below(bytes.count + 1))
        case 3:  // delete a range
            if !bytes.isEmpty { let start = rng.below(bytes.count); bytes.removeSubrange(start..<min(bytes.count, start + rng.below(64) + 1)) }
        case 4:  // overwrite a header word with a huge or edge value
            let values: [UInt32] = [0, 1, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000, 60000, 4097, 0x0000_0803, 0x0000_0801]
            let word = rng.below(max(headerWords, 1))
            var value = values[rng.below(values.count)]
            if bigEndian { value = value.bigEndian } else { value = value.littleEndian }
            if 4 * word + 4 <= bytes.count { withUnsafeBytes(of: value) { bytes.replaceSubrange(4 * word..<4 * word + 4, with: $0) } }
        default:  // random bytes overwrite a span
            if !bytes.isEmpty {
                let start = rng.below(bytes.count)
                for i in start..<min(bytes.count, start + rng.below(16) + 1) { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
    }
    return bytes
}

/// A valid, small training checkpoint (a VAE with one 8-unit hidden layer on 6×5 images).
@MainActor func seedCheckpoint() throws -> [UInt8] {
    var config = TrainingConfig()
    config.architecture = "8"
    config.latent = 2
    let spec = try config.networkSpec(inputSize: 30, imageWidth: 5)
    let network = makeNetwork(spec, seed: 1)
    let parameters = network.makeParameters().toArray()
    let metadata = TrainingCheckpointMetadata(
        config: config, dataset: "fuzz", dataFingerprint: 42, epoch: 0, stepInEpoch: 3, globalStep: 3, adamStep: 3,
        epochReconstruction: 1, epochKL: 1, epochExamples: 3, parameterCount: parameters.count,
        parameterChecksum: parameters.withUnsafeBufferPointer { FlatBuffer.checksum($0) }, imageRows: 6, imageCols: 5)
    return try CheckpointFile.encode(metadata: metadata, tensors: [
        CheckpointTensor(name: CheckpointTensorName.parameters, values: parameters),
        CheckpointTensor(name: CheckpointTensorName.adamFirstMoment, values: parameters),
        CheckpointTensor(name: CheckpointTensorName.adamSecondMoment, values: parameters)])
}

/// Replaces the JSON header's numbers with hostile ones and re-seals, so the metadata checks are exercised.
@MainActor func hostileHeader(_ original: [UInt8]) -> [UInt8] {
    guard original.count > 28 else { return original }
    let headerLength = Int(original[20]) | Int(original[21]) << 8 | Int(original[22]) << 16 | Int(original[23]) << 24
    guard 24 + headerLength <= original.count, var json = String(bytes: original[24..<24 + headerLength], encoding: .utf8) else { return original }
    let hostile = ["0", "-1", "4097", "100000000", "9223372036854775807", "1e300", "\"x\""]
    for key in ["imageRows", "imageCols", "parameterCount", "latent", "globalBatch", "epoch"] where rng.below(2) == 0 {
        if let range = json.range(of: "\"\(key)\":[^,}]*", options: .regularExpression) {
            json.replaceSubrange(range, with: "\"\(key)\":\(hostile[rng.below(hostile.count)])")
        }
    }
    if rng.below(3) == 0, let range = json.range(of: "\"architecture\":\"[^\"]*\"", options: .regularExpression) {
        let arches = ["100000000-100000000", "9223372036854775807", "0", "", "-", "8-8-8-8-8-8-8-8", "deep"]
        json.replaceSubrange(range, with: "\"architecture\":\"\(arches[rng.below(arches.count)])\"")
    }
    let header = Array(json.utf8)
    var bytes = Array(original[0..<20])
    withUnsafeBytes(of: UInt32(header.count).littleEndian) { bytes += $0 }
    bytes += header + original[(24 + headerLength)...]
    reseal(&bytes)
    return bytes
}

// MARK: Run

try? FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
var seeds: [(name: String, bytes: [UInt8], isImages: Bool)] = []
for name in (try FileManager.default.contentsOfDirectory(atPath: seedDirectory)).sorted() {
    guard let data = FileManager.default.contents(atPath: seedDirectory + "/" + name) else { continue }
    seeds.append((name, Array(data), name.contains("images")))
}
let checkpoint = try seedCheckpoint()
precondition((try? TrainingCheckpoint(bytes: checkpoint, path: "seed")) != nil, "the seed checkpoint must load")
// A valid safetensors export of the same network, for `--init-from`'s reader and name mapping.
let exportNetwork = try TrainingCheckpoint(bytes: checkpoint, path: "seed").restoreNetwork()
let safetensors = SafeTensors.encode(PyTorchWeights.tensors(of: exportNetwork.network, parameters: exportNetwork.parameters),
                                     metadata: ["format": "vae-dist"])
guard !seeds.isEmpty else { print("fuzz-readers: no seed files in \(seedDirectory)"); exit(2) }

let start = Date()
var iterations = 0, accepted = 0, refused = 0
var messages: [String: Int] = [:]
while iterations < iterationLimit && Date().timeIntervalSince(start) < secondsLimit {
    iterations += 1
    let path = workDirectory + "/input-\(iterations % 4)"
    do {
        let choice = rng.below(3)
        if choice == 2 {
            // safetensors: damage the header length (little-endian), the JSON or the data.
            let bytes = mutate(safetensors, headerWords: 2, bigEndian: false)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let contents = try SafeTensors.read(path: path)
            let buffer = FlatBuffer(count: exportNetwork.network.layout.count)
            try PyTorchWeights.assign(contents, to: exportNetwork.network, parameters: buffer, path: path)
        } else if choice == 0 {
            let seed = seeds[rng.below(seeds.count)]
            let isGzip = seed.bytes.starts(with: [0x1f, 0x8b])
            // Raw seeds: damage the header words (big-endian); gzip seeds: damage the stream itself.
            try Data(mutate(seed.bytes, headerWords: isGzip ? 3 : 4, bigEndian: true)).write(to: URL(fileURLWithPath: path))
            if seed.isImages { _ = try IDX.readImages(path: path) } else { _ = try IDX.readLabels(path: path) }
        } else {
            var bytes = rng.below(3) == 0 ? hostileHeader(checkpoint) : mutate(checkpoint, headerWords: 6, bigEndian: false)
            if rng.below(4) == 0 { reseal(&bytes) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let loaded = try TrainingCheckpoint(bytes: try CheckpointFile.readBytes(path: path), path: path)
            _ = try loaded.restoreNetwork()
        }
        accepted += 1
    } catch {
        refused += 1
        let text = "\(error)"
        if text.contains("\n") { print("fuzz-readers: FAIL: a multi-line error: \(text)"); exit(1) }
        let kind = text.split(separator: ":").dropFirst().first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? text
        messages[String(kind.prefix(40)), default: 0] += 1
    }
}
var usage = rusage()
getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
let seconds = Date().timeIntervalSince(start)
print("fuzz-readers: \(iterations) inputs in \(String(format: "%.1f", seconds)) s: \(accepted) accepted, \(refused) refused "
    + "with a one-line error; peak RSS \(usage.ru_maxrss / 1024) MiB")
for (kind, count) in messages.sorted(by: { $0.value > $1.value }).prefix(12) { print("  \(count)× \(kind)") }
