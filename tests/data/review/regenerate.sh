#!/bin/sh
# Regenerates the lock files of this directory with uv (see README.md). Each side resolves "as
# of" a date, as a dependency bot would have then. The index's URLs are replaced by example
# hosts: the files keep their real shape, and no test depends on where packages come from.
set -eu
cd "$(dirname "$0")"
export UV_PYTHON_DOWNLOADS=never
scrub() {
    sed -E -i \
        -e 's#(registry|index) = "https?://[^"]*"#\1 = "https://index.example/simple"#g' \
        -e 's#url = "https?://[^/"]+/#url = "https://files.example/#g' "$@"
}
(cd requirements &&
    uv pip compile base.in --python-version 3.11 --exclude-newer 2023-05-01 -o base.txt -q &&
    uv pip compile head.in --python-version 3.11 --exclude-newer 2024-08-01 -o head.txt -q &&
    uv pip compile head.in --python-version 3.11 --exclude-newer 2024-08-01 \
        --generate-hashes -o head-hashed.txt -q)
for side in base:2023-05-01 head:2024-08-01 ../uv-fork:2024-12-01; do
    dir=uv/${side%%:*}
    (cd "$dir" && uv lock --exclude-newer "${side##*:}" -q &&
        uv export --format pylock.toml --frozen -q -o pylock.toml)
    scrub "$dir/uv.lock" "$dir/pylock.toml"
done
