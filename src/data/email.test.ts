import { describe, expect, it } from 'vitest';
import { decodeHeader, emailToText, htmlToText } from './email.ts';

const msg = (headers: string[], body: string) => `${headers.join('\n')}\n\n${body}`;

describe('e-mail to Subject + body', () => {
  it('drops every header and keeps the subject and the plain body', () => {
    const e = emailToText(
      msg(
        [
          'From someone@example.com  Mon Jul 22 18:13:05 2002',
          'Return-Path: <a@b.c>',
          'Received: from x by y',
          '\twith ESMTP',
          'Subject: Re: [ILUG] hard- vs. soft-links',
          'X-Mailman-Version: 1.1',
        ],
        "Use the GUI.\n\n_______________________________________________\nIrish Linux Users' Group: ilug@linux.ie\nhttp://www.linux.ie/mailman/listinfo/ilug\n",
      ),
    );
    expect(e.subject).toBe('Re: hard- vs. soft-links');
    expect(e.body).toBe('Use the GUI.');
    expect([e.listTagRemoved, e.footerRemoved, e.fromHtml]).toEqual([true, true, false]);
  });

  it('decodes RFC 2047 subjects', () => {
    expect(decodeHeader('=?iso-8859-1?Q?Caf=E9_ouvert?=')).toBe('Café ouvert');
    expect(decodeHeader('=?utf-8?B?8J+ZgiBoaQ==?= =?utf-8?Q?_there?=')).toBe('🙂 hi there');
    expect(decodeHeader('plain')).toBe('plain');
  });

  it('walks multipart MIME: plain text over HTML, quoted-printable and base64 with charsets', () => {
    const body = [
      '--XYZ',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>html version</p>',
      '--XYZ',
      'Content-Type: text/plain; charset="iso-8859-1"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Voil=E0, a long line that is =',
      'soft-broken.',
      '--XYZ',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      'AAAA',
      '--XYZ--',
      '',
    ].join('\n');
    const e = emailToText(msg(['Subject: hi', 'Content-Type: multipart/alternative; boundary="XYZ"'], body));
    expect(e.body).toBe('Voilà, a long line that is soft-broken.');
    const b64 = emailToText(
      msg(
        ['Subject: b', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'],
        btoa('ok ✓'.replace('✓', '\u00e2\u009c\u0093')),
      ),
    );
    expect(b64.body).toBe('ok ✓');
  });

  it('finds MIME parts that the header does not declare', () => {
    const body = '--=_NextPart_000\nContent-Type: text/html;\n\n<b>See</b> the VIDEO<BR>\n--=_NextPart_000--\n';
    expect(emailToText(msg(['Subject: x'], body)).body).toBe('See the VIDEO');
  });

  it('turns HTML-only mail into text', () => {
    const e = emailToText(
      msg(
        ['Subject: WIN', 'Content-Type: text/html'],
        '<html><head><style>p{}</style></head><body><p>Click&nbsp;<b>here</b> &amp; win &#36;5</p><br>Now!<!-- x --></body></html>',
      ),
    );
    expect(e.fromHtml).toBe(true);
    expect(e.body).toBe('Click here & win $5\n\nNow!');
    expect(htmlToText('a<br/>b &unknown; &#x41;')).toBe('a\nb &unknown; A');
  });
});
