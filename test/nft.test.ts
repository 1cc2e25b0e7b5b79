import { describe, expect, it } from 'vitest';
import { errorColumn, errorLines, failed, isElementOnly, joinScript, scriptLineAt, takeReply } from '../nft/index.js';

describe('nft -i: what is sent', () => {
  it('takes only element additions and deletions', () => {
    expect(isElementOnly('add element ip t s { 1.2.3.4 }\ndelete element ip t m { 1.2.3.5 }\n')).toBe(true);
    expect(isElementOnly('add element ip t s { 1.2.3.4 }\nadd chain ip t c\n')).toBe(false);
    expect(isElementOnly('flush set ip t s\n')).toBe(false);
    expect(isElementOnly('')).toBe(false);
    expect(isElementOnly('\n\n')).toBe(false);
  });

  it('joins the lines into one and maps a column back to its line', () => {
    const script = 'add element ip t s { 1.1.1.1 }\n\ndelete element ip t s { 2.2.2.2 }\n';
    const j = joinScript(script);
    expect(j.line).toBe('add element ip t s { 1.1.1.1 }; delete element ip t s { 2.2.2.2 }');
    expect(scriptLineAt(j, 0)).toBe(1);
    expect(scriptLineAt(j, 29)).toBe(1);
    expect(scriptLineAt(j, j.line.indexOf('2.2.2.2'))).toBe(3);
  });

  it('refuses a line with a comment, which would swallow what is joined after it', () => {
    expect(() => joinScript('add element ip t s { 1.1.1.1 } # x\nadd element ip t s { 2.2.2.2 }')).toThrow(/line 1 has a comment/);
  });
});

describe('nft -i: what is read', () => {
  const markerErr = (m: string) => `Error: syntax error, unexpected newline, expecting string\n${m}\n${'^'.repeat(m.length)}\n`;

  it('waits for the marker and its caret line', () => {
    expect(takeReply('', 'mk1')).toBeUndefined();
    expect(takeReply('Error: syntax error\nmk1\n', 'mk1')).toBeUndefined();
    expect(takeReply(markerErr('mk1'), 'mk1')).toEqual({ output: '', rest: '' });
  });

  it('splits a failed transaction from the marker and keeps what follows', () => {
    const txn = 'Error: Could not process rule: No such file or directory\nadd element ip t s { 1.1.1.1 }; delete element ip t s { 9.9.9.9 }\n                                                        ^^^^^^^\n';
    const r = takeReply(`${txn}${markerErr('mk2')}Error: next`, 'mk2')!;
    expect(r.output).toBe(txn);
    expect(r.rest).toBe('Error: next');
    expect(failed(r.output)).toBe(true);
    expect(errorColumn(r.output)).toBe(56);
    expect(errorLines(r.output)).toBe('Error: Could not process rule: No such file or directory');
  });

  it('does not take another marker for this one', () => {
    expect(takeReply(markerErr('mk10'), 'mk1')).toBeUndefined();
  });

  it('counts only Error lines as failure', () => {
    expect(failed('')).toBe(false);
    expect(failed('Warning: something\n')).toBe(false);
    expect(failed('<cli>:1:1-3: Error: syntax error\n')).toBe(true);
    expect(errorColumn('Error: x\nfoo bar\n    ~~~~^^^\n')).toBe(4);
  });
});
