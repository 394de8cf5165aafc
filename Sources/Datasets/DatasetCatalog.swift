import FileFormats
/// The data sets `vae-dist` knows by name: their four files, where to download them, and their checksums.
public struct DatasetDescription: Sendable, Equatable {
    /// One of the four files of an MNIST-format data set.
    public struct File: Sendable, Equatable {
        /// Name without `.gz`, e.g. `train-images-idx3-ubyte`.
        public let name: String
        /// MD5 of the `.gz` file as the mirrors serve it (checked after download).
        public let gzipMD5: String
        /// MD5 of the decompressed file: identifies the content however it was recompressed
        /// (Debian's `dataset-fashion-mnist` recompresses, so its `.gz` MD5s differ from upstream's).
        public let contentMD5: String

        public init(name: String, gzipMD5: String, contentMD5: String) {
            self.name = name
            self.gzipMD5 = gzipMD5
            self.contentMD5 = contentMD5
        }
    }

    public let name: String
    /// Base URLs tried in order; each file is fetched as `mirror + name + ".gz"`.
    public let mirrors: [String]
    /// Order: train images, train labels, test images, test labels.
    public let files: [File]
    /// How a user without the data gets it, for the "not found" message.
    public let howToGet: String

    public init(name: String, mirrors: [String], files: [File], howToGet: String) {
        precondition(files.count == 4, "an MNIST-format data set has four files")
        self.name = name
        self.mirrors = mirrors
        self.files = files
        self.howToGet = howToGet
    }

    public var trainImages: File { files[0] }
    public var trainLabels: File { files[1] }
    public var testImages: File { files[2] }
    public var testLabels: File { files[3] }

    /// The standard file names (without `.gz`) in the order of `files`.
    public static let standardFileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]

    /// MNIST (LeCun, Cortes, Burges). The original site no longer serves it; these are the mirrors torchvision uses.
    public static let mnist = DatasetDescription(
        name: "mnist",
        mirrors: [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ],
        files: [
            File(name: standardFileNames[0], gzipMD5: "f68b3c2dcbeaaa9fbdd348bbdeb94873", contentMD5: "6bbc9ace898e44ae57da46a324031adb"),
            File(name: standardFileNames[1], gzipMD5: "d53e105ee54ea40749a09fcbcd1e9432", contentMD5: "a25bea736e30d166cdddb491f175f624"),
            File(name: standardFileNames[2], gzipMD5: "9fb629c4189551a2d022fa330f9573f3", contentMD5: "2646ac647ad5339dbf082846283269ea"),
            File(name: standardFileNames[3], gzipMD5: "ec29112dd5afa0611ce80d1b7f02629c", contentMD5: "27ae3e4e09519cfbb04c329615203637"),
        ],
        howToGet: "get it with `vae-dist data download mnist`, or train on Fashion-MNIST with `--dataset fashion-mnist` after `apt-get install dataset-fashion-mnist`"
    )

    /// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): same format and sizes as MNIST.
    public static let fashionMNIST = DatasetDescription(
        name: "fashion-mnist",
        mirrors: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
        files: [
            File(name: standardFileNames[0], gzipMD5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d", contentMD5: "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
            File(name: standardFileNames[1], gzipMD5: "25c81989df183df01b3e8a0aad5dffbe", contentMD5: "9018921c3c673c538a1fc5bad174d6f9"),
            File(name: standardFileNames[2], gzipMD5: "bef4ecab320f06d8554ea6380940ec79", contentMD5: "8181f5470baa50b63fa0f6fddb340f0a"),
            File(name: standardFileNames[3], gzipMD5: "bb300cfdad3c16e7a12a480ee83cd310", contentMD5: "15d484375f8d13e6eb1aabb0c3f46965"),
        ],
        howToGet: "install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or `vae-dist data download fashion-mnist`"
    )

    /// The data sets known by name.
    public static let known: [DatasetDescription] = [mnist, fashionMNIST]

    /// The description for `name` (case-insensitive; `fashion_mnist` and `fashionmnist` also accepted), or nil.
    public static func named(_ name: String) -> DatasetDescription? {
        let key = String(name.lowercased().map { $0 == "_" ? "-" : $0 })
        if key == "fashionmnist" { return fashionMNIST }
        return known.first { $0.name == key }
    }
}
