// Word statistics over a text: loops with labels, early returns, generators, regexes.
'use strict';

const STOP_WORDS = new Set(['the', 'a', 'an', 'and', 'of', 'to']);

function* words(text) {
  const pattern = /[A-Za-z']+/g;
  let match;
  while ((match = pattern.exec(text)) !== null) {
    yield match[0].toLowerCase();
  }
}

function countWords(text, { skipStopWords = true, limit = Infinity } = {}) {
  const counts = new Map();
  let seen = 0;
  for (const word of words(text)) {
    if (skipStopWords && STOP_WORDS.has(word)) continue;
    counts.set(word, (counts.get(word) ?? 0) + 1);
    if (++seen >= limit) break;
  }
  return counts;
}

function firstRepeatedPair(lines) {
  outer: for (let i = 0; i < lines.length; i++) {
    for (let j = i + 1; j < lines.length; j++) {
      if (lines[i].trim() === '') continue outer;
      if (lines[i] === lines[j]) {
        return [i, j];
      }
    }
  }
  return null;
}

function top(counts, n) {
  if (n <= 0) {
    return [];
  }
  return [...counts.entries()]
    .sort(([, a], [, b]) => b - a)
    .slice(0, n)
    .map(([word, count]) => `${word}=${count}`);
}

const sample = `The cat sat on the mat.
A dog sat on a log.
The cat sat on the mat.`;

const counts = countWords(sample);
console.log(top(counts, 3).join(', '));
console.log(firstRepeatedPair(sample.split('\n')));
do {
  counts.delete(top(counts, 1)[0]?.split('=')[0]);
} while (counts.size > 4);
console.log(counts.size);
