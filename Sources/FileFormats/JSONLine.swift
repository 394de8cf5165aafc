import Foundation

/// The one way vae-dist writes JSON (metrics.jsonl, `--json` output of eval and the benchmarks): a Codable
/// value through `JSONEncoder`, keys sorted, on one line. Infinities and NaN, which JSON cannot hold, are
/// written as the strings "Infinity", "-Infinity" and "NaN" instead of failing.
public enum JSONLine {
    public static func encode<Value: Encodable>(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            preconditionFailure("JSONLine: \(Value.self) did not encode: \(error)")
        }
    }
}
