import Model

/// How an overlapped exchange cuts the flat gradient buffer into buckets: contiguous ranges summed across
/// ranks one after another while backward still runs (`BackgroundReduction`).
///
/// Buckets are whole parameter tensors, taken from the end of the buffer: backward produces the last
/// layers' gradients first, and the layout holds the layers in forward order. A bucket closes once it
/// spans at least `minimumFloats`; the last one also takes whatever is left at the start of the buffer. So
/// the cut depends only on the layout and the size, never on timing: every rank sums the same buckets in
/// the same order, which is what lets them meet in each bucket's collective.
struct GradientBuckets: Equatable {
    /// In the order they are summed; together they cover `0..<count` without overlap.
    let ranges: [Range<Int>]
    /// Every parameter tensor, ascending, and the bucket that holds it.
    let tensorRanges: [Range<Int>]
    private let tensorBucket: [Int]
    /// How many tensors each bucket holds: it is ready when that many have been reported.
    let tensorsPerBucket: [Int]

    /// `tensors`: where each parameter tensor lies in a buffer of `count` floats (empty ones are ignored).
    init(tensors: [Range<Int>], count: Int, minimumFloats: Int) {
        let sorted = tensors.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        precondition(sorted.allSatisfy { $0.lowerBound >= 0 && $0.upperBound <= count },
                     "GradientBuckets: a tensor lies outside the buffer")
        var ranges: [Range<Int>] = []
        var bucketOf = [Int](repeating: 0, count: sorted.count)
        var perBucket: [Int] = []
        var upper = count, members = 0
        for index in sorted.indices.reversed() {
            bucketOf[index] = ranges.count
            members += 1
            let lower = index == 0 ? 0 : sorted[index].lowerBound
            if upper - lower >= minimumFloats || index == 0 {
                ranges.append(lower..<upper)
                perBucket.append(members)
                upper = lower
                members = 0
            }
        }
        if upper > 0 || ranges.isEmpty {  // no tensors, or none at the start: one bucket for the rest
            ranges.append(0..<upper)
            perBucket.append(0)
        }
        self.ranges = ranges
        tensorRanges = sorted
        tensorBucket = bucketOf
        tensorsPerBucket = perBucket
    }

    /// The tensors `range` overlaps (a bias, a band of a weight's rows, or more), as indices into
    /// `tensorRanges`, with their buckets and how many of their floats `range` holds: what
    /// `BackgroundReduction.ready` counts.
    func tensors(overlapping range: Range<Int>) -> [(tensor: Int, bucket: Int, floats: Int)] {
        var low = 0, high = tensorRanges.count
        while low < high {
            let middle = (low + high) / 2
            if tensorRanges[middle].upperBound <= range.lowerBound { low = middle + 1 } else { high = middle }
        }
        var found: [(Int, Int, Int)] = []
        while low < tensorRanges.count && tensorRanges[low].lowerBound < range.upperBound {
            found.append((low, tensorBucket[low], range.clamped(to: tensorRanges[low]).count))
            low += 1
        }
        return found
    }

    var tensorCount: Int { tensorRanges.count }

    /// Every tensor of `layout`, for `init(tensors:)`.
    static func tensors(of layout: ParameterLayout) -> [Range<Int>] {
        layout.entries.map { $0.offset..<($0.offset + $0.count) }
    }
}
