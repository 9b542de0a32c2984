#!/usr/bin/env python3
"""Regenerates the bundled site: BaseFile.html, 10 images, 10 text files and a short video.

Needs Pillow (pip install pillow) and ffmpeg (apt-get install ffmpeg). The committed files are
the reference; this script documents how they were made. Run from the repository root:
    python3 www/make-site.py
"""
import os
import random
import subprocess

from PIL import Image, ImageDraw

here = os.path.dirname(os.path.abspath(__file__))
random.seed(2026)

images = [
    ("dino.jpg", (320, 240), "JPEG"), ("sunset.jpg", (400, 260), "JPEG"), ("forest.jpg", (360, 240), "JPEG"),
    ("city.jpg", (300, 300), "JPEG"), ("wave.png", (256, 180), "PNG"), ("logo.png", (128, 128), "PNG"),
    ("chart.png", (300, 200), "PNG"), ("icon.gif", (64, 64), "GIF"), ("banner.gif", (468, 60), "GIF"),
    ("photo.jpg", (480, 320), "JPEG"),
]
for name, size, fmt in images:
    img = Image.new("RGB", size, tuple(random.randrange(40, 220) for _ in range(3)))
    d = ImageDraw.Draw(img)
    for _ in range(40):
        x0, y0 = random.randrange(size[0]), random.randrange(size[1])
        x1, y1 = x0 + random.randrange(10, 120), y0 + random.randrange(10, 90)
        d.ellipse([x0, y0, x1, y1], fill=tuple(random.randrange(256) for _ in range(3)))
    d.text((8, 8), name, fill=(255, 255, 255))
    img.save(os.path.join(here, name), fmt, **({"quality": 85} if fmt == "JPEG" else {}))

words = "packet segment window handshake latency throughput keep-alive pipelining header body chunk frame".split()
texts = [f"f{i}.txt" for i in range(1, 11)]
for i, name in enumerate(texts, 1):
    lines = [" ".join(random.choice(words) for _ in range(12)) for _ in range(20 * i)]
    with open(os.path.join(here, name), "w") as f:
        f.write(f"Text object {i} of 10.\n" + "\n".join(lines) + "\n")

# A short video (2 s test pattern, WebM VP9) for byte ranges.
subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x180:rate=15:duration=2",
                "-c:v", "libvpx-vp9", "-b:v", "200k", os.path.join(here, "clip.webm")], check=True)

rows = "\n".join(f'    <figure><img src="{n}" alt="{n}"><figcaption>{n}</figcaption></figure>' for n, _, _ in images)
links = "\n".join(f'    <li><a href="{t}">{t}</a></li>' for t in texts)
html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>wirelab base file</title>
  <style>
    body { font-family: system-ui, sans-serif; margin: 24px; }
    .images { display: flex; flex-wrap: wrap; gap: 12px; }
    figure { margin: 0; } img { max-height: 160px; display: block; }
    figcaption { font-size: 12px; color: #555; }
    .texts { columns: 5; }
  </style>
</head>
<body>
  <h1>wirelab base file</h1>
  <p>This page references 10 images and 10 text files, 20 objects in all. Fetch it
  with <code>wirelab fetch</code> in persistent, non-persistent, parallel or pipelined mode and
  compare the TCP connections each mode opens.</p>
  <section class="images">
{rows}
  </section>
  <ul class="texts">
{links}
  </ul>
  <video src="clip.webm" controls width="320"></video>
</body>
</html>
"""
with open(os.path.join(here, "BaseFile.html"), "w") as f:
    f.write(html)
with open(os.path.join(here, "index.html"), "w") as f:
    f.write('<!doctype html><meta charset="utf-8"><title>wirelab</title><p><a href="BaseFile.html">BaseFile.html</a></p>\n')
