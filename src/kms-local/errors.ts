/**
 * An error the endpoint answers with, AWS JSON 1.1 style: HTTP status,
 * `x-amzn-ErrorType` header and `{"__type","message"}` body. The real SDK maps
 * `type` to its exception classes (`err.name`). Messages never carry key bytes.
 */
export class KmsProtocolError extends Error {
  readonly type: string;
  readonly status: number;
  constructor(type: string, message: string, status = 400) {
    super(message);
    this.name = 'KmsProtocolError';
    this.type = type;
    this.status = status;
  }
}

export const validation = (message: string) => new KmsProtocolError('ValidationException', message);
export const serialization = (message: string) => new KmsProtocolError('SerializationException', message);
export const notFound = (message: string) => new KmsProtocolError('NotFoundException', message);
export const invalidCiphertext = (message = 'The ciphertext is invalid or does not match the encryption context') =>
  new KmsProtocolError('InvalidCiphertextException', message);
export const incorrectKey = () =>
  new KmsProtocolError(
    'IncorrectKeyException',
    'The key ID in the request does not identify the KMS key used to encrypt the ciphertext',
  );
