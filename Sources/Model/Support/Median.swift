extension Collection where Element == Double {
    /// The median: the middle value, or the mean of the two middle values of an even count; nil when
    /// empty. The one median of the code base (benchmarks, the exchange's probe schedule).
    public var median: Double? {
        guard !isEmpty else { return nil }
        let sorted = self.sorted()
        return (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
    }
}
