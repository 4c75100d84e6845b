#!/usr/bin/env python3
"""Writes a names CSV in the public file's format with ROWS rows (default 1,000,000) to standard output.

Years, groups and names are drawn with a fixed seed from the public file's own values, so the file is the same on
every run and every machine; counts and ranks follow a skewed distribution with many ties, like the real ones.
Usage: bench/names_csv.py [ROWS] > names-1m.csv
"""
import random
import sys

HEADER = "Year of Birth,Gender,Ethnicity,Child's First Name,Count,Rank"
ETHNICITIES = ["ASIAN AND PACIFIC ISLANDER", "BLACK NON HISPANIC", "HISPANIC", "WHITE NON HISPANIC"]
NAMES = """Olivia Chloe Sophia Emma Emily Mia Charlotte Isabella Ava Sofia Amelia Abigail Madison Ella Grace Leah
Zoe Aria Scarlett Victoria Liam Noah Ethan Jacob Lucas Jayden Aiden Mason Michael Daniel David Matthew Joseph
Alexander Benjamin James Ryan Elijah Logan Dylan Muhammad Moshe Chaim Yosef Esther Chana Rachel Sarah Leila""".split()


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(4)
    out = sys.stdout
    out.write(HEADER + "\n")
    for _ in range(rows):
        name = rng.choice(NAMES)
        if rng.random() < 0.3:
            name = name.upper()
        count = 10 + int(rng.paretovariate(1.5) * 5)
        out.write(
            f"{rng.randint(2011, 2016)},{rng.choice(('FEMALE', 'MALE'))},{rng.choice(ETHNICITIES)},"
            f"{name},{count},{rng.randint(1, 100)}\n"
        )


if __name__ == "__main__":
    main()
