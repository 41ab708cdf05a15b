// Locating a QR symbol in a luminance image and sampling its module grid.
//
// 1. Binarise: global Otsu threshold first; a local-mean threshold as the fallback.
// 2. Finder patterns: every row is run-length coded; five runs dark-light-dark-light-dark in
//    the ratio 1:1:3:1:1 are cross-checked vertically and again horizontally through the
//    centre they give, and nearby hits are merged.
// 3. The three finders are chosen as the triple closest to a right isosceles triangle; the
//    right-angle corner is the top-left one, the sign of the cross product tells top-right
//    from bottom-left.
// 4. The side length is counted from the timing patterns (row and column 6), checked against
//    the finder distance / module size estimate and, for versions ≥ 7, the version
//    information. The grid is sampled through the affine map fixed by the three finder centres.

struct BinaryImage: Sendable {
    let width: Int
    let height: Int
    /// Row-major, 1 = dark.
    let bits: [UInt8]

    @inline(__always)
    func isDark(_ x: Int, _ y: Int) -> Bool { bits[y * width + x] != 0 }

    @inline(__always)
    func isDark(_ x: Double, _ y: Double) -> Bool? {
        let ix = Int(x.rounded(.down)), iy = Int(y.rounded(.down))
        guard ix >= 0, iy >= 0, ix < width, iy < height else { return nil }
        return bits[iy * width + ix] != 0
    }

    /// Global threshold by Otsu's method: the grey level that maximises the between-class
    /// variance of the histogram. Pixels at or below it are dark.
    static func otsu(_ image: PNGImage) -> BinaryImage {
        var histogram = [Int](repeating: 0, count: 256)
        for l in image.luminance { histogram[Int(l)] += 1 }
        let total = image.luminance.count
        var sumAll = 0.0
        for i in 0..<256 { sumAll += Double(i * histogram[i]) }
        var weightBelow = 0, sumBelow = 0.0
        var best = -1.0, threshold = 127
        for t in 0..<255 {
            weightBelow += histogram[t]
            if weightBelow == 0 { continue }
            let weightAbove = total - weightBelow
            if weightAbove == 0 { break }
            sumBelow += Double(t * histogram[t])
            let meanBelow = sumBelow / Double(weightBelow)
            let meanAbove = (sumAll - sumBelow) / Double(weightAbove)
            let between = Double(weightBelow) * Double(weightAbove) * (meanBelow - meanAbove) * (meanBelow - meanAbove)
            if between > best {
                best = between
                threshold = t
            }
        }
        let cut = UInt8(threshold)
        return BinaryImage(width: image.width, height: image.height, bits: image.luminance.map { $0 <= cut ? 1 : 0 })
    }

    /// Local threshold: a pixel is dark when it is darker than the mean of the square window
    /// around it by a margin (summed-area table, so any window costs the same).
    static func localMean(_ image: PNGImage) -> BinaryImage {
        let w = image.width, h = image.height
        let radius = max(8, min(w, h) / 10)
        var integral = [Int](repeating: 0, count: (w + 1) * (h + 1))
        for y in 0..<h {
            var rowSum = 0
            for x in 0..<w {
                rowSum += Int(image.luminance[y * w + x])
                integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + rowSum
            }
        }
        var bits = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            let y0 = max(0, y - radius), y1 = min(h, y + radius + 1)
            for x in 0..<w {
                let x0 = max(0, x - radius), x1 = min(w, x + radius + 1)
                let sum = integral[y1 * (w + 1) + x1] - integral[y0 * (w + 1) + x1] - integral[y1 * (w + 1) + x0] + integral[y0 * (w + 1) + x0]
                let count = (x1 - x0) * (y1 - y0)
                let l = Int(image.luminance[y * w + x])
                if l * count * 8 < sum * 7 { bits[y * w + x] = 1 }
            }
        }
        return BinaryImage(width: w, height: h, bits: bits)
    }
}

struct FinderCandidate: Sendable {
    var x: Double
    var y: Double
    /// Estimated module size in pixels.
    var moduleSize: Double
    /// Number of scan lines that confirmed it.
    var count: Int
}

enum QRDetector {
    static func decode(_ image: PNGImage) throws(QRDecodingError) -> QRDecodeResult {
        guard image.width >= 21, image.height >= 21 else { throw .notFound }
        var best: QRDecodingError = .notFound
        for binarizer in 0..<2 {
            let binary = binarizer == 0 ? BinaryImage.otsu(image) : BinaryImage.localMean(image)
            do {
                return try decode(binary)
            } catch {
                if error.progress > best.progress { best = error }
            }
        }
        throw best
    }

    static func decode(_ image: BinaryImage) throws(QRDecodingError) -> QRDecodeResult {
        let candidates = findCandidates(image)
        var best: QRDecodingError = .notFound
        for triple in orderedTriples(candidates).prefix(12) {
            do {
                return try decode(image, triple)
            } catch {
                if error.progress > best.progress { best = error }
            }
        }
        throw best
    }

    // MARK: Finder patterns

    /// Whether five run lengths are in the ratio 1:1:3:1:1 (each within half a module).
    @inline(__always)
    static func isFinderRatio(_ c0: Int, _ c1: Int, _ c2: Int, _ c3: Int, _ c4: Int) -> Bool {
        guard c0 > 0, c1 > 0, c2 > 0, c3 > 0, c4 > 0 else { return false }
        let total = c0 + c1 + c2 + c3 + c4
        guard total >= 7 else { return false }
        let module = Double(total) / 7
        let variance = module / 2
        return abs(module - Double(c0)) < variance
            && abs(module - Double(c1)) < variance
            && abs(3 * module - Double(c2)) < 3 * variance
            && abs(module - Double(c3)) < variance
            && abs(module - Double(c4)) < variance
    }

    static func findCandidates(_ image: BinaryImage) -> [FinderCandidate] {
        var candidates: [FinderCandidate] = []
        var starts: [Int] = []
        var lengths: [Int] = []
        starts.reserveCapacity(image.width)
        lengths.reserveCapacity(image.width)
        for y in 0..<image.height {
            starts.removeAll(keepingCapacity: true)
            lengths.removeAll(keepingCapacity: true)
            let row = y * image.width
            var x = 0
            while x < image.width {
                let value = image.bits[row + x]
                let start = x
                while x < image.width && image.bits[row + x] == value { x += 1 }
                starts.append(start)
                lengths.append(x - start)
            }
            let firstDark = image.bits[row] != 0 ? 0 : 1
            var i = firstDark
            while i + 4 < lengths.count {
                if isFinderRatio(lengths[i], lengths[i + 1], lengths[i + 2], lengths[i + 3], lengths[i + 4]) {
                    let total = lengths[i...(i + 4)].reduce(0, +)
                    let centerX = Double(starts[i + 2]) + Double(lengths[i + 2]) / 2
                    if let found = confirm(image, centerX: centerX, y: y, horizontalTotal: total, core: lengths[i + 2]) {
                        merge(found, into: &candidates)
                    }
                }
                i += 2
            }
        }
        return candidates
    }

    /// Vertical then horizontal cross-check through a horizontal hit; the refined centre and
    /// module size, or nil.
    static func confirm(_ image: BinaryImage, centerX: Double, y: Int, horizontalTotal: Int, core: Int) -> FinderCandidate? {
        let x = Int(centerX)
        guard let (centerY, verticalTotal) = crossCheck(image, along: .vertical, fixed: x, from: y, maxCount: core * 2 + 2, expectedTotal: horizontalTotal)
        else {
            return nil
        }
        let cy = Int(centerY)
        guard let (refinedX, refinedTotal) = crossCheck(image, along: .horizontal, fixed: cy, from: x, maxCount: core * 2 + 2, expectedTotal: horizontalTotal)
        else {
            return nil
        }
        // One more vertical pass through the refined column centres y precisely.
        let finalY = crossCheck(image, along: .vertical, fixed: Int(refinedX), from: cy, maxCount: core * 2 + 2, expectedTotal: verticalTotal)
        let vy = finalY?.center ?? centerY
        let vTotal = finalY?.total ?? verticalTotal
        return FinderCandidate(x: refinedX, y: vy, moduleSize: Double(refinedTotal + vTotal) / 14, count: 1)
    }

    enum Direction { case horizontal, vertical }

    /// Counts the five runs through (`from`) along a row or column; the centre of the core run
    /// and the total length if they form a finder ratio of about the expected total.
    static func crossCheck(_ image: BinaryImage, along direction: Direction, fixed: Int, from start: Int, maxCount: Int, expectedTotal: Int) -> (
        center: Double, total: Int
    )? {
        let limit = direction == .horizontal ? image.width : image.height
        guard fixed >= 0, fixed < (direction == .horizontal ? image.height : image.width), start >= 0, start < limit else { return nil }
        @inline(__always) func dark(_ i: Int) -> Bool {
            direction == .horizontal ? image.isDark(i, fixed) : image.isDark(fixed, i)
        }
        guard dark(start) else { return nil }
        var counts = [0, 0, 0, 0, 0]
        var i = start
        while i >= 0 && dark(i) { counts[2] += 1; i -= 1 }
        guard i >= 0 else { return nil }
        while i >= 0 && !dark(i) && counts[1] <= maxCount { counts[1] += 1; i -= 1 }
        guard i >= 0, counts[1] <= maxCount else { return nil }
        while i >= 0 && dark(i) && counts[0] <= maxCount { counts[0] += 1; i -= 1 }
        guard counts[0] <= maxCount else { return nil }
        i = start + 1
        while i < limit && dark(i) { counts[2] += 1; i += 1 }
        guard i < limit else { return nil }
        while i < limit && !dark(i) && counts[3] <= maxCount { counts[3] += 1; i += 1 }
        guard i < limit, counts[3] <= maxCount else { return nil }
        while i < limit && dark(i) && counts[4] <= maxCount { counts[4] += 1; i += 1 }
        guard counts[4] <= maxCount else { return nil }
        let total = counts.reduce(0, +)
        guard 5 * abs(total - expectedTotal) < 2 * expectedTotal else { return nil }
        guard isFinderRatio(counts[0], counts[1], counts[2], counts[3], counts[4]) else { return nil }
        let center = Double(i - counts[4] - counts[3]) - Double(counts[2]) / 2
        return (center, total)
    }

    static func merge(_ found: FinderCandidate, into candidates: inout [FinderCandidate]) {
        for index in candidates.indices {
            let c = candidates[index]
            let tolerance = max(c.moduleSize, found.moduleSize)
            if abs(c.x - found.x) <= tolerance, abs(c.y - found.y) <= tolerance,
                abs(c.moduleSize - found.moduleSize) <= max(1, 0.4 * c.moduleSize)
            {
                let n = Double(c.count)
                candidates[index] = FinderCandidate(
                    x: (c.x * n + found.x) / (n + 1),
                    y: (c.y * n + found.y) / (n + 1),
                    moduleSize: (c.moduleSize * n + found.moduleSize) / (n + 1),
                    count: c.count + 1
                )
                return
            }
        }
        candidates.append(found)
    }

    struct Triple: Sendable {
        var topLeft: FinderCandidate
        var topRight: FinderCandidate
        var bottomLeft: FinderCandidate
        var score: Double
    }

    /// Triples of candidates that could be a symbol's three finders, best first.
    static func orderedTriples(_ all: [FinderCandidate]) -> [Triple] {
        // Prefer candidates confirmed by several scan lines; keep the strongest few.
        var pool = all.filter { $0.count >= 2 }
        if pool.count < 3 { pool = all }
        pool.sort { $0.count > $1.count }
        pool = Array(pool.prefix(16))
        var triples: [Triple] = []
        guard pool.count >= 3 else { return [] }
        for a in 0..<(pool.count - 2) {
            for b in (a + 1)..<(pool.count - 1) {
                for c in (b + 1)..<pool.count {
                    if let triple = makeTriple(pool[a], pool[b], pool[c]) { triples.append(triple) }
                }
            }
        }
        return triples.sorted { $0.score < $1.score }
    }

    static func distance(_ p: FinderCandidate, _ q: FinderCandidate) -> Double {
        ((p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y)).squareRoot()
    }

    static func makeTriple(_ p: FinderCandidate, _ q: FinderCandidate, _ r: FinderCandidate) -> Triple? {
        let sizes = [p.moduleSize, q.moduleSize, r.moduleSize]
        let minSize = sizes.min()!, maxSize = sizes.max()!
        guard maxSize <= 1.5 * minSize else { return nil }
        let pq = distance(p, q), qr = distance(q, r), pr = distance(p, r)
        // The corner opposite the longest side is the top-left finder.
        var corner = p, b = q, c = r
        var legs = (pq, pr), hypotenuse = qr
        if pq >= qr && pq >= pr {
            corner = r; b = p; c = q; legs = (pr, qr); hypotenuse = pq
        } else if pr >= qr && pr >= pq {
            corner = q; b = p; c = r; legs = (pq, qr); hypotenuse = pr
        }
        let module = (p.moduleSize + q.moduleSize + r.moduleSize) / 3
        let leg = (legs.0 + legs.1) / 2
        // Finder centres are 14 (version 1) to 170 (version 40) modules apart.
        guard leg / module >= 10, leg / module <= 200 else { return nil }
        let legMismatch = abs(legs.0 - legs.1) / leg
        let angleMismatch = abs(hypotenuse * hypotenuse - legs.0 * legs.0 - legs.1 * legs.1) / (hypotenuse * hypotenuse)
        guard legMismatch < 0.2, angleMismatch < 0.2 else { return nil }
        // Image y points down: with top-right = corner + (d, 0) and bottom-left = corner + (0, d)
        // the cross product is positive.
        let cross = (b.x - corner.x) * (c.y - corner.y) - (b.y - corner.y) * (c.x - corner.x)
        let (topRight, bottomLeft) = cross > 0 ? (b, c) : (c, b)
        let sizeMismatch = (maxSize - minSize) / minSize
        return Triple(topLeft: corner, topRight: topRight, bottomLeft: bottomLeft, score: legMismatch + angleMismatch + sizeMismatch / 2)
    }

    // MARK: Geometry and sampling

    /// The symbol side lengths worth trying for a finder triple, most likely first.
    static func candidateSizes(_ image: BinaryImage, _ t: Triple) -> [Int] {
        let module = (t.topLeft.moduleSize + t.topRight.moduleSize + t.bottomLeft.moduleSize) / 3
        var sizes: [Int] = []
        func add(_ size: Int) {
            if size >= 21, size <= 177, (size - 17) % 4 == 0, !sizes.contains(size) { sizes.append(size) }
        }
        let a = timingCount(image, from: t.topLeft, to: t.topRight, toward: t.bottomLeft, module: module)
        let b = timingCount(image, from: t.topLeft, to: t.bottomLeft, toward: t.topRight, module: module)
        if let a, let b, a == b { add(a) }
        if let a { add(a) }
        if let b { add(b) }
        let estimate = (distance(t.topLeft, t.topRight) + distance(t.topLeft, t.bottomLeft)) / 2 / module + 7
        let nearest = Int(((estimate - 17) / 4).rounded()) * 4 + 17
        add(nearest)
        add(nearest + 4)
        add(nearest - 4)
        return sizes
    }

    /// The side length implied by the timing pattern between two finders: walking from one
    /// centre to the other three modules towards the symbol's inside (row or column 6), the
    /// colour changes side − 13 times. Changes shorter than 40 % of a module are ignored.
    static func timingCount(_ image: BinaryImage, from: FinderCandidate, to: FinderCandidate, toward third: FinderCandidate, module: Double) -> Int? {
        let length = distance(from, to)
        guard length > 0 else { return nil }
        let ux = (to.x - from.x) / length, uy = (to.y - from.y) / length
        let sideLength = distance(from, third)
        let vx = (third.x - from.x) / sideLength, vy = (third.y - from.y) / sideLength
        let ox = from.x + 3 * module * vx, oy = from.y + 3 * module * vy
        let minimumRun = max(1, Int(0.4 * module))
        var colour: Bool?
        var pending: Bool?
        var pendingRun = 0
        var transitions = 0
        let steps = Int(length)
        for s in 0...steps {
            guard let dark = image.isDark(ox + Double(s) * ux, oy + Double(s) * uy) else { return nil }
            guard let current = colour else { colour = dark; continue }
            if dark == current {
                pending = nil
                pendingRun = 0
                continue
            }
            if pending == dark { pendingRun += 1 } else { pending = dark; pendingRun = 1 }
            if pendingRun >= minimumRun {
                colour = dark
                transitions += 1
                pending = nil
                pendingRun = 0
            }
        }
        guard colour == true else { return nil }
        return transitions + 13
    }

    static func decode(_ image: BinaryImage, _ t: Triple) throws(QRDecodingError) -> QRDecodeResult {
        var best: QRDecodingError = .notFound
        var tried: [Int] = []
        var queue = candidateSizes(image, t)
        while let size = queue.first {
            queue.removeFirst()
            if tried.contains(size) { continue }
            tried.append(size)
            let modules = sample(image, t, size: size)
            if size >= 45, let version = QRDecoder.readVersion(modules: modules, size: size), QRTables.size(version: version) != size {
                // The version information names another size: try that next.
                queue.insert(QRTables.size(version: version), at: 0)
                continue
            }
            do {
                return try QRDecoder.decode(modules: modules, size: size)
            } catch {
                if error.progress > best.progress { best = error }
            }
        }
        throw best
    }

    /// Samples module centres through the affine map taking module centre (3.5, 3.5) to the
    /// top-left finder, (size − 3.5, 3.5) to the top-right and (3.5, size − 3.5) to the
    /// bottom-left one. Points outside the image read as light.
    static func sample(_ image: BinaryImage, _ t: Triple, size: Int) -> [Bool] {
        let span = Double(size - 7)
        let ex = ((t.topRight.x - t.topLeft.x) / span, (t.topRight.y - t.topLeft.y) / span)
        let ey = ((t.bottomLeft.x - t.topLeft.x) / span, (t.bottomLeft.y - t.topLeft.y) / span)
        var modules = [Bool](repeating: false, count: size * size)
        for my in 0..<size {
            let v = Double(my) + 0.5 - 3.5
            for mx in 0..<size {
                let u = Double(mx) + 0.5 - 3.5
                let px = t.topLeft.x + u * ex.0 + v * ey.0
                let py = t.topLeft.y + u * ex.1 + v * ey.1
                modules[my * size + mx] = image.isDark(px, py) ?? false
            }
        }
        return modules
    }
}
