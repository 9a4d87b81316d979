"""Where the browser bundle's code goes: function body sizes of a WASM file that still has its
name section (target/wasm32-unknown-unknown/wasm-release/frontend.wasm, before wasm-opt strips
it), summed by the crate a function's demangled name names first. A generic instantiated for
an app type (a view, a signal of an app value) counts under the crate that defines the generic
(tachys for views, reactive_graph for signals), unless its name is the app's own.
Usage: python3 scripts/wasm_sizes.py FILE.wasm"""
import collections
import sys

CRATES = ["app::", "tachys", "reactive_graph", "serde_json", "serde_qs", "serde::", "leptos_router",
          "leptos_server", "server_fn", "leptos::", "leptos_meta", "wasm_bindgen", "web_sys", "js_sys",
          "uuid", "time::", "hashbrown", "futures", "alloc::", "core::", "std::"]
ESCAPES = [("$LT$", "<"), ("$GT$", ">"), ("$u20$", " "), ("$RF$", "&"), ("$C$", ","), ("..", "::"),
           ("$u7b$", "{"), ("$u7d$", "}"), ("$BP$", "*"), ("$u27$", "'"), ("$u5b$", "["), ("$u5d$", "]")]


def leb(b, i):
    value = shift = 0
    while True:
        x = b[i]
        i += 1
        value |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return value, i


def demangle(s):
    if not s.startswith("_ZN"):
        return s
    i, parts = 3, []
    while i < len(s) and s[i].isdigit():
        j = i
        while s[j].isdigit():
            j += 1
        n = int(s[i:j])
        parts.append(s[j:j + n])
        i = j + n
    name = "::".join(parts)
    for a, b in ESCAPES:
        name = name.replace(a, b)
    return name


def main(path):
    data = open(path, "rb").read()
    i, imported, bodies, names = 8, 0, [], {}
    while i < len(data):
        section = data[i]
        size, i = leb(data, i + 1)
        end = i + size
        if section == 2:  # imports: functions among them shift the function index space
            count, j = leb(data, i)
            for _ in range(count):
                for _ in range(2):
                    n, j = leb(data, j)
                    j += n
                kind = data[j]
                j += 1
                if kind == 0:
                    _, j = leb(data, j)
                    imported += 1
                elif kind in (1, 2):
                    if kind == 1:
                        j += 1
                    flags, j = leb(data, j)
                    _, j = leb(data, j)
                    if flags & 1:
                        _, j = leb(data, j)
                elif kind == 3:
                    j += 2
                elif kind == 4:
                    _, j = leb(data, j + 1)
        elif section == 10:  # code
            count, j = leb(data, i)
            for _ in range(count):
                n, k = leb(data, j)
                bodies.append(n + k - j)
                j = k + n
        elif section == 0:
            n, j = leb(data, i)
            if data[j:j + n] == b"name":
                j += n
                while j < end:
                    sub = data[j]
                    n, j = leb(data, j + 1)
                    if sub == 1:
                        count, k = leb(data, j)
                        for _ in range(count):
                            index, k = leb(data, k)
                            m, k = leb(data, k)
                            names[index] = data[k:k + m].decode("utf-8", "replace")
                            k += m
                    j += n
        i = end
    if not names:
        sys.exit(f"{path} has no name section")
    by_crate = collections.Counter()
    for index, size in enumerate(bodies):
        name = demangle(names.get(index + imported, "?"))
        crate = "app" if "app::" in name else next((c.rstrip(":") for c in CRATES if c in name), "other")
        by_crate[crate] += size
    total = sum(bodies)
    print(f"{'code by crate (before wasm-opt)':<34} {'KB':>8} {'share':>6}")
    for crate, size in by_crate.most_common():
        print(f"{crate:<34} {size / 1024:8.1f} {100 * size / total:5.1f}%")
    print(f"{'total':<34} {total / 1024:8.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
