/// Layer widths written `"1000-500-250"`, as `--arch` and `--condition-tower` take them: the one parser.
public enum LayerWidths {
    /// `"1000-500-250"` → `[1000, 500, 250]`, `""` → `[]`; nil unless every dash-separated part is an
    /// integer in `1...maximum`.
    public static func parse(_ text: String, maximum: Int = .max) -> [Int]? {
        guard !text.isEmpty else { return [] }
        let widths = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard widths.allSatisfy({ $0.map { (1...maximum).contains($0) } ?? false }) else { return nil }
        return widths.map { $0! }
    }

    /// `[1000, 500, 250]` → `"1000-500-250"`.
    public static func text(_ widths: [Int]) -> String { widths.map(String.init).joined(separator: "-") }
}
