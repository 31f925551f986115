/**
 * ANSI colours for a person at a terminal: none when the output is piped or NO_COLOR is set
 * (no-color.org), so logs, tests and READMEs get plain text.
 */
const enabled = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: string) => (text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text);

export const bold = paint('1');
export const dim = paint('2');
export const red = paint('31');
export const green = paint('32');
export const yellow = paint('33');
export const cyan = paint('36');
export const magenta = paint('1;35');
