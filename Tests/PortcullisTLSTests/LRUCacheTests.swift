@testable import PortcullisTLS
import Testing

@Suite("LRU cache")
struct LRUCacheTests {
    @Test("holds at most its capacity, evicting the least recently used; a read counts as a use")
    func eviction() {
        var cache = LRUCache<String, Int>(capacity: 3)
        #expect(cache.set(1, for: "a") == nil)
        cache.set(2, for: "b")
        cache.set(3, for: "c")
        #expect(cache.value(for: "a") == 1)
        #expect(cache.set(4, for: "d") == "b", "b was the least recently used")
        #expect(cache.count == 3)
        #expect(cache.peek("b") == nil)
        #expect(cache.set(5, for: "e") == "c")
        #expect(cache.value(for: "a") == 1 && cache.value(for: "d") == 4 && cache.value(for: "e") == 5)
        cache.set(6, for: "a")
        #expect(cache.value(for: "a") == 6 && cache.count == 3, "an update replaces in place")
    }

    @Test("removal frees a slot, and a long churn stays bounded and consistent")
    func churn() {
        var cache = LRUCache<Int, Int>(capacity: 8)
        var model: [Int] = []  // keys, most recent last
        for step in 0..<5_000 {
            let key = (step * 7919) % 23
            if step % 5 == 0 {
                cache.removeValue(for: key)
                model.removeAll { $0 == key }
            } else if step % 3 == 0 {
                let got = cache.value(for: key)
                #expect((got != nil) == model.contains(key))
                if got != nil { model.removeAll { $0 == key }; model.append(key) }
            } else {
                let evicted = cache.set(key * 10, for: key)
                model.removeAll { $0 == key }
                if model.count == 8 { #expect(evicted == model.removeFirst()) } else { #expect(evicted == nil) }
                model.append(key)
            }
            #expect(cache.count == model.count)
        }
        for key in model { #expect(cache.peek(key) == key * 10) }
    }
}
