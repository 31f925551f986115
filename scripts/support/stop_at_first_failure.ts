/**
 * A node:test reporter for mutation testing (`scripts/mutate.ts`): the process exits 1 at the first
 * failing test. One failure is all Stryker needs to count a mutant killed, and most mutants fail an
 * early test: the rest of the file need not run. It prints nothing; Stryker reads the exit code.
 */
export default async function* stopAtFirstFailure(source: AsyncIterable<{ type: string }>): AsyncGenerator<string> {
  for await (const event of source) {
    if (event.type === 'test:fail') process.exit(1);
  }
  yield '';
}
