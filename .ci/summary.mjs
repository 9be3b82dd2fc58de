// Prints one closing line over every vitest JSON result: "vitest: N passed, N failed, N skipped".
// Failing tests are listed by name with the head of their failure message, so the last lines of a
// CI log say what broke, not only that something did.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

let passed = 0, failed = 0, skipped = 0, files = 0;
const failures = [];
for (const f of process.argv.slice(2)) {
  if (!existsSync(f)) {
    console.log(`missing result file ${f}`);
    failed++;
    continue;
  }
  const r = JSON.parse(readFileSync(f, 'utf8'));
  files++;
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  console.log(`${f}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
  for (const file of r.testResults ?? []) {
    const name = relative(process.cwd(), file.name);
    const failedHere = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
    for (const a of failedHere) {
      failures.push({ result: f, file: name, test: a.fullName, message: (a.failureMessages ?? []).join('\n') });
    }
    // A file that failed to load or crashed has no failed assertion but a message of its own.
    if (failedHere.length === 0 && file.status === 'failed') {
      failures.push({ result: f, file: name, test: '(file)', message: file.message ?? '' });
    }
  }
}
for (const x of failures) {
  const head = x.message.split('\n').slice(0, 12).join('\n    ');
  console.log(`FAILED ${x.result} ${x.file} > ${x.test}\n    ${head}`);
}
console.log(`vitest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || files === 0 || passed === 0 ? 1 : 0);
