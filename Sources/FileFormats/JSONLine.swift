import Foundation

/// The one way vae-dist writes JSON (metrics.jsonl, `--json` output of eval and the benchmarks): a Codable
/// value through `JSONEncoder`, keys sorted, on one line. Infinities and NaN, which JSON cannot hold, are
/// written as the strings "Infinity", "-Infinity" and "NaN" instead of failing; `decode` reads them back.
public enum JSONLine {
    private static let nonConforming = (positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")

    public static func encode<Value: Encodable>(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonConforming.positiveInfinity, negativeInfinity: nonConforming.negativeInfinity,
            nan: nonConforming.nan)
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            preconditionFailure("JSONLine: \(Value.self) did not encode: \(error)")
        }
    }

    /// A value from one line `encode` wrote (or any JSON of that shape).
    public static func decode<Value: Decodable>(_ type: Value.Type, from line: some StringProtocol) throws -> Value {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonConforming.positiveInfinity, negativeInfinity: nonConforming.negativeInfinity,
            nan: nonConforming.nan)
        return try decoder.decode(type, from: Data(line.utf8))
    }
}
