/// The defined field a misspelt one most likely meant, for `unknown field "mode"; did you
/// mean "default_mode"?`. Compared without case, `_` or `-`:
/// 1. the same letters (`warnOnly`, `warn-only` for `warn_only`);
/// 2. one inside the other, both at least 3 long (`mode` for `default_mode`, `ports` for `port`);
/// 3. a small edit distance (insertions, deletions, substitutions, swaps of neighbours):
///    at most a third of the shorter name, and for names of 4 or fewer letters only with the
///    same first letter (`hots` for `host`, but not `mode` for `note`).
/// The lowest step wins, then the smallest difference, then the document's order.
enum FieldSuggestion {
    static func closest(to given: String, among fields: [String]) -> String? {
        let g = normalized(given)
        guard !g.isEmpty, g.count <= 64 else { return nil }
        var best: (step: Int, distance: Int, name: String)?
        for field in fields {
            let f = normalized(field)
            let step: Int, distance: Int
            if f == g {
                (step, distance) = (1, 0)
            } else if min(f.count, g.count) >= 3, contains(f, g) || contains(g, f) {
                (step, distance) = (2, abs(f.count - g.count))
            } else {
                let shorter = min(f.count, g.count)
                if shorter <= 4 && f.first != g.first { continue }
                let d = editDistance(g, f)
                guard d <= max(1, shorter / 3) else { continue }
                (step, distance) = (3, d)
            }
            if let b = best, (b.step, b.distance) <= (step, distance) { continue }
            best = (step, distance, field)
        }
        return best?.name
    }

    /// Lower-case ASCII letters and digits; everything else (`_`, `-`, spaces) dropped.
    static func normalized(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): out.append(b)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): out.append(b + 32)
            case UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: " "): continue
            default: out.append(b)
            }
        }
        return out
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }

    /// Optimal string alignment distance (Levenshtein plus swaps of neighbouring letters).
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d = min(d, previous2[j - 2] + 1) }
                current[j] = d
            }
            (previous2, previous, current) = (previous, current, previous2)
        }
        return previous[b.count]
    }
}
