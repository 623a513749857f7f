"""Benchmark (not a test): FlexRel relevance over 1,024 reference images vs one training epoch.

VGG-16-BN at width ×0.25 on 32×32 single-channel inputs (FashionMNIST padded), batch 128, on this
machine's CPU threads. The goal is relevance ≤ 5 % of an epoch over 60,000 images.

    .venv/bin/python benchmarks/relevance_vs_epoch.py [--images 60000] [--reference 1024]
"""

import argparse
import time

import torch

from lib import models, scores, train
from lib.data import TensorLoader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=60_000, help="training images in the epoch")
    parser.add_argument("--reference", type=int, default=1024, help="reference images for relevance")
    parser.add_argument("--width", type=float, default=0.25)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = models.vgg16(10, 1, width=args.width, image_size=32)
    x, y = torch.randn(args.images, 1, 32, 32), torch.randint(0, 10, (args.images,))
    opt = train.make_optimizer("sgd", model.parameters(), lr=0.01, momentum=0.9)
    epoch = train.train_epoch(model, TensorLoader(x, y, 128, shuffle=True), opt)["seconds"]
    start = time.perf_counter()
    scores.relevance(model, x[: args.reference], y[: args.reference])
    rel = time.perf_counter() - start
    print(f"threads {torch.get_num_threads()}  epoch over {args.images} images: {epoch:.1f} s  "
          f"relevance over {args.reference} images: {rel:.2f} s  ratio {rel / epoch:.2%}")


if __name__ == "__main__":
    main()
