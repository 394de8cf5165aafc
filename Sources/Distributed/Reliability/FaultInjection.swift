import Foundation

/// Test-only faults, read from the environment variable `VAE_DIST_FAULT`, so scripts/test-faults can make
/// one rank misbehave at a chosen step of a real run. Unset (always, outside tests), nothing happens.
///
/// `VAE_DIST_FAULT=<kind>,rank=R,step=S[,seconds=T]` — on rank R (default: every rank), at global step S
/// (1-based, default 1):
/// - `stall`:  sleep T seconds (default 3600) before the step's forward/backward (the watchdog's test);
/// - `nan`:    report a NaN loss for the step (the non-finite loss check's test);
/// - `drift`:  after the step's update add 1e-3 to the first parameter (the replica checksum's test);
/// - `sigterm`, `sigint`: send this process the signal before the step (the stop-signal path's test);
/// - `slow`:   sleep T seconds before the forward/backward of step S and of every step after it: a rank
///   slower than the others, which they help with its weight gradients in shared memory;
/// - `slowcheckpoint`: sleep T seconds (default 3600) as rank R begins writing the checkpoint of step S
///   (scripts/test-host-loss takes a host's link down while rank 0 writes).
public struct FaultInjection: Sendable, Equatable {
    public enum Kind: String, Sendable { case stall, nan, drift, sigterm, sigint, slow, slowcheckpoint }
    public static let environmentVariable = "VAE_DIST_FAULT"

    public var kind: Kind
    public var rank: Int?
    public var step: Int
    public var seconds: Double

    /// Parses the variable's value; nil for an empty value. Malformed text is an error, never ignored.
    public init?(parsing text: String) throws {
        let fields = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = fields.first, !first.isEmpty else { return nil }
        guard let kind = Kind(rawValue: first) else {
            throw TrainingError("\(Self.environmentVariable)=\(text): unknown fault '\(first)' (stall, nan, drift, sigterm, sigint, slow, slowcheckpoint)")
        }
        self.kind = kind
        rank = nil
        step = 1
        seconds = 3600
        for field in fields.dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { throw TrainingError("\(Self.environmentVariable)=\(text): '\(field)' is not key=value") }
            switch pair[0] {
            case "rank": rank = Int(pair[1])
            case "step": step = Int(pair[1]) ?? -1
            case "seconds": seconds = Double(pair[1]) ?? -1
            default: throw TrainingError("\(Self.environmentVariable)=\(text): unknown key '\(pair[0])' (rank, step, seconds)")
            }
            guard step >= 1, seconds >= 0, rank.map({ $0 >= 0 }) ?? true else {
                throw TrainingError("\(Self.environmentVariable)=\(text): '\(field)' is out of range")
            }
        }
    }

    /// The fault the environment asks for, if any.
    public static func fromEnvironment() throws -> FaultInjection? {
        guard let value = getenv(environmentVariable) else { return nil }
        return try FaultInjection(parsing: String(cString: value))
    }

    /// True when this fault is due on `rank` at global step `step` (`slow`: at `step` and after).
    public func applies(_ kind: Kind, rank: Int, step: Int) -> Bool {
        self.kind == kind && (kind == .slow ? step >= self.step : self.step == step) && (self.rank ?? rank) == rank
    }
}
