import Distributed
import Foundation
import Model
import Testing
import FileFormats
import Datasets

/// Every evaluation figure is a valid PNG of the stated size; the distributed evaluator counts every example once.
@Suite(.serialized) struct EvaluationFiguresTests {
    /// Width and height from a PNG file, after checking its signature, chunk CRCs and that the image data inflates
    /// to exactly height × (1 + width × channels) bytes.
    static func pngSize(_ path: String) throws -> (width: Int, height: Int, channels: Int) {
        let data = try #require(FileManager.default.contents(atPath: path), "\(path) missing")
        let bytes = [UInt8](data)
        #expect(Array(bytes[0..<8]) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        let width = u32(16), height = u32(20), colorType = bytes[25]
        let channels = colorType == 2 ? 3 : 1
        // Decode with Python's zlib as an independent reader (scripts/setup installs python3).
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
                     "/usr/bin/python3 is needed to decode the PNG independently")
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        check.arguments = ["-c", """
            import struct, sys, zlib
            d = open(sys.argv[1], 'rb').read(); p = 8; idat = b''
            while p < len(d):
                n, k = struct.unpack('>I4s', d[p:p + 8]); body = d[p + 8:p + 8 + n]
                assert zlib.crc32(k + body) == struct.unpack('>I', d[p + 8 + n:p + 12 + n])[0]
                if k == b'IDAT': idat += body
                p += 12 + n
            assert len(zlib.decompress(idat)) == int(sys.argv[2]) * (1 + int(sys.argv[3]) * int(sys.argv[4]))
            """, path, String(height), String(width), String(channels)]
        try check.run()
        check.waitUntilExit()
        #expect(check.terminationStatus == 0, "\(path) does not decode")
        return (width, height, channels)
    }

    static func tinySplit(count: Int) throws -> DataSplit {
        var pixels = [UInt8](repeating: 0, count: count * 64)
        for i in 0..<pixels.count { pixels[i] = UInt8(truncatingIfNeeded: i &* 37 &+ i / 64 &* 11) }
        let images = IDXImages(count: count, rows: 8, cols: 8, pixels: pixels)
        return try DataSplit(images: images, labels: (0..<count).map { UInt8($0 % 10) })
    }

    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "vae-dist-figures-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    @Test func modelFiguresHaveTheirStatedSizes() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let test = try Self.tinySplit(count: 40)
        let spec = NetworkSpec(kind: .vae, architecture: Architecture(inputSize: 64, encoderHidden: [16], latentSize: 2))
        let network = makeNetwork(spec, seed: 3)
        let written = try RunFigures(directory: directory)
            .writeModelFigures(name: "vae", network: network, parameters: network.makeParameters(), test: test)
        #expect(Set(written.map(\.file)) == ["vae-samples.png", "vae-reconstructions.png", "vae-interpolation.png",
                                             "vae-manifold.png", "vae-latent-scatter.png"])
        // 8×8 grid of 8×8 images at scale 2 with 1-pixel borders: 8·16 + 9.
        #expect(try Self.pngSize(directory + "/vae-samples.png") == (137, 137, 1))
        // 8 pairs × 10 steps: width 10·16 + 11, height 8·16 + 9.
        #expect(try Self.pngSize(directory + "/vae-interpolation.png") == (171, 137, 1))
        // 20 × 20 images of 8×8, no border.
        #expect(try Self.pngSize(directory + "/vae-manifold.png") == (160, 160, 1))
        #expect(try Self.pngSize(directory + "/vae-latent-scatter.png") == (640, 640, 3))
        // 32 images: 4 rows of originals and 4 of reconstructions, 8 columns.
        #expect(try Self.pngSize(directory + "/vae-reconstructions.png") == (137, 8 * 16 + 9, 1))
    }

    @Test func completionFigureHasOneColumnPerExampleAndThreePlusSamplesRows() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let test = try Self.tinySplit(count: 20)
        let architecture = Architecture(inputSize: 64, encoderHidden: [16], latentSize: 3)
        let column = Conditioning.pixelColumn(column: 4, imageWidth: 8)
        let cvae = makeNetwork(NetworkSpec(kind: .cvae, architecture: architecture, conditioning: column), seed: 1)
        let regressor = makeNetwork(NetworkSpec(kind: .regressor, architecture: architecture, conditioning: column), seed: 1)
        let figure = try RunFigures(directory: directory).writeCompletion(
            cvae: cvae, cvaeParameters: cvae.makeParameters(), regressor: regressor,
            regressorParameters: regressor.makeParameters(), test: test, examples: 12, cvaeSamples: 4)
        #expect(try Self.pngSize(directory + "/" + figure.file) == (12 * 16 + 13, 7 * 16 + 8, 1))
    }

    @Test func lossCurvesAreThreePanelsWithTrainAndTestColours() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // A run without metrics yet (stopped inside its first epoch) has no loss curves.
        #expect(try RunFigures(directory: directory).writeLossCurves(of: RunDirectory(path: directory), file: "none.png") == nil)
        // The lines the trainer writes (EpochMetrics.jsonLine), with losses falling and KL rising.
        var lines = ""
        for epoch in 1...4 {
            let d = Double(epoch)
            lines += #"{"epoch":\#(epoch),"epoch_seconds":1,"exchange_share":0,"global_step":\#(10 * epoch),"ranks":1,"#
                + #""samples_per_second":1,"test_kl":\#(19 + 2 * d),"test_loss":\#(295 - 9 * d),"test_reconstruction":\#(276 - 11 * d),"#
                + #""train_kl":\#(20 + 2 * d),"train_loss":\#(300 - 10 * d),"train_reconstruction":\#(280 - 12 * d)}"# + "\n"
        }
        try Data(lines.utf8).write(to: URL(fileURLWithPath: directory + "/metrics.jsonl"))
        let run = RunDirectory(path: directory)
        let figure = try #require(try RunFigures(directory: directory).writeLossCurves(of: run, file: "curves.png"))
        #expect(try Self.pngSize(directory + "/" + figure.file) == (3 * 380, 300, 3))
        let image = RunFigures.lossCurves(try run.readMetrics())
        var colours = Set<RGB>()
        for y in 0..<image.height { for x in 0..<image.width { colours.insert(image.color(x: x, y: y)) } }
        #expect(colours.contains(RunFigures.trainColor) && colours.contains(RunFigures.testColor))
        // Every panel explains itself: a title in its top band, the x label in its bottom band, and a
        // legend box holding a swatch of each colour.
        func blackPixels(_ xs: Range<Int>, _ ys: Range<Int>) -> Int {
            var n = 0
            for y in ys { for x in xs where image.color(x: x, y: y) == .black { n += 1 } }
            return n
        }
        for panel in 0..<3 {
            let xs = panel * 380..<(panel + 1) * 380
            #expect(blackPixels(xs, 0..<20) > 20, "panel \(panel) has no title")
            #expect(blackPixels(xs, 280..<300) > 10, "panel \(panel) has no x label")
        }
    }

    @Test func plotsWithoutWordsHaveNone() {
        let series = [PlotSeries(xs: [1, 2], ys: [3, 4], color: RunFigures.trainColor)]
        let bare = LinePlot.render(panels: [PlotPanel(series: series)])
        let titled = LinePlot.render(panels: [PlotPanel(series: series, title: "loss", xLabel: "epoch", yLabel: "nats",
                                                        legend: [("train", RunFigures.trainColor)])])
        var differing = 0
        for y in 0..<bare.height { for x in 0..<bare.width where bare.color(x: x, y: y) != titled.color(x: x, y: y) { differing += 1 } }
        #expect(differing > 100)
    }

    @Test func evaluatorCountsEveryExampleOnceAndIWIsBelowTheELBO() throws {
        let test = try Self.tinySplit(count: 23)
        let spec = NetworkSpec(kind: .vae, architecture: Architecture(inputSize: 64, encoderHidden: [16], latentSize: 4))
        let network = makeNetwork(spec, seed: 8)
        let parameters = network.makeParameters()
        var evaluator = LikelihoodEvaluator(network: network, parameters: parameters, world: SingleProcessCommunicator(), samples: 50)
        evaluator.chunk = 7   // chunks that do not divide the split
        let result = try evaluator.evaluate(on: test)
        let reference = try DistributedEvaluator(network: network, parameters: parameters, world: SingleProcessCommunicator())
            .meanLoss(on: test)
        #expect(result.examples == 23 && result.samples == 50)
        #expect(abs(result.negativeELBO - reference.total) < 1e-9 * reference.total)
        #expect(result.negativeLogLikelihood < result.negativeELBO)
        let firstTen = try evaluator.evaluate(on: test, limit: 10)
        #expect(firstTen.examples == 10)
    }
}
