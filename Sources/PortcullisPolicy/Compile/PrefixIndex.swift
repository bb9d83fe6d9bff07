/// IP and CIDR rules of one address family: one hash table per prefix length present,
/// longest prefix first. A lookup costs one hash per distinct prefix length (at most 33
/// or 129), whatever the number of rules.
struct PrefixIndex<Key: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    struct Entry: Sendable {
        var allow: [Int32] = []
        var deny: [Int32] = []
    }

    struct Level: Sendable {
        let length: Int
        let mask: Key
        var table: [Key: Entry]
    }

    private(set) var levels: [Level] = []
    /// Level index by prefix length (-1: no rule of that length).
    private var levelByLength: [Int8] = []

    init(_ items: [(key: Key, length: Int, index: Int32, isAllow: Bool, hasPort: Bool)]) {
        var byLength: [Int: [Key: Entry]] = [:]
        var hasPort: [Int32: Bool] = [:]
        for item in items {
            hasPort[item.index] = item.hasPort
            if item.isAllow {
                byLength[item.length, default: [:]][item.key, default: Entry()].allow.append(item.index)
            } else {
                byLength[item.length, default: [:]][item.key, default: Entry()].deny.append(item.index)
            }
        }
        func order(_ list: inout [Int32]) {
            guard list.count > 1 else { return }
            list.sort { a, b in
                let pa = hasPort[a] ?? false, pb = hasPort[b] ?? false
                return pa != pb ? pa : a < b
            }
        }
        levels = byLength.keys.sorted(by: >).map { length in
            var table = byLength[length]!
            for key in table.keys {
                order(&table[key]!.allow)
                order(&table[key]!.deny)
            }
            return Level(length: length, mask: PrefixIndex.mask(length), table: table)
        }
        lengths = levels.map(\.length)
        if !levels.isEmpty {
            levelByLength = Array(repeating: -1, count: Key.bitWidth + 1)
            for (i, level) in levels.enumerated() { levelByLength[level.length] = Int8(i) }
        }
    }

    /// The prefix lengths present, longest first.
    private(set) var lengths: [Int] = []

    /// The rules of prefix length `length` covering `value`.
    @inline(__always)
    func entry(length: Int, _ value: Key) -> Entry? {
        guard length < levelByLength.count, case let i = Int(levelByLength[length]), i >= 0 else { return nil }
        let level = levels[i]
        return level.table[value & level.mask]
    }

    static func mask(_ length: Int) -> Key {
        length == 0 ? 0 : ~Key(0) << (Key.bitWidth - length)
    }

    /// Calls `body` for each level whose prefix covers `value`, longest prefix first, until
    /// `body` returns false.
    @inline(__always)
    func forEachCovering(_ value: Key, _ body: (Entry) -> Bool) {
        for level in levels {
            if let e = level.table[value & level.mask], !body(e) { return }
        }
    }

    var isEmpty: Bool { levels.isEmpty }
}
